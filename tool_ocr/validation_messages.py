"""Pydantic's validation errors in words for a person, keyed by the parameter they concern."""

_SOURCES = {"query", "body", "form", "file", "path", "filters", "paging", "payload"}


def describe(err: dict) -> tuple[str, str]:
    """(parameter, message) of one pydantic error dict."""
    loc = [str(p) for p in err.get("loc", ()) if not isinstance(p, int)]
    field = next((p for p in reversed(loc) if p not in _SOURCES), "__all__")
    kind, ctx = err.get("type", ""), err.get("ctx") or {}
    value = f"{err['input']!r} " if isinstance(err.get("input"), (str, int, float)) else "The value "
    if kind == "literal_error":
        message = f"{value}is not one of {ctx.get('expected', 'the allowed values')}."
    elif kind.startswith("date_") or kind.startswith("datetime_"):
        message = f"{value}is not a date: use an ISO date such as 2025-01-31."
    elif kind in ("int_parsing", "int_type", "int_from_float"):
        message = f"{value}is not a whole number."
    elif kind == "greater_than_equal":
        message = f"Must be at least {ctx.get('ge')}."
    elif kind == "less_than_equal":
        message = f"Must be at most {ctx.get('le')}."
    elif kind == "string_too_long":
        message = f"At most {ctx.get('max_length')} characters."
    elif kind == "missing":
        message = "Required."
    else:
        message = str(err.get("msg", "Not valid."))
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
    return field, message


def details_of(errors) -> dict:
    details = {}
    for err in errors:
        field, message = describe(err)
        details.setdefault(field, message)
    return details
