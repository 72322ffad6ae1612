"""Pydantic's validation errors in words for a person, keyed by the parameter they concern."""

_SOURCES = {"query", "body", "form", "file", "path", "filters", "paging", "payload"}


# What a person calls each parameter (the pages' labels); messages start with it.
LABELS = {"created_from": "The 'From' date", "created_to": "The 'To' date", "status": "The status",
          "q": "The search", "ordering": "The sort order", "page": "The page number", "page_size": "Rows per page",
          "engine": "The engine", "language": "The language", "format": "The format"}


def _shown(value) -> str:
    text = str(value)
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return f"“{text[:40]}{'…' if len(text) > 40 else ''}”"


def describe(err: dict) -> tuple[str, str]:
    """(parameter, message in plain words) of one pydantic error dict."""
    loc = [str(p) for p in err.get("loc", ()) if not isinstance(p, int)]
    field = next((p for p in reversed(loc) if p not in _SOURCES), "__all__")
    kind, ctx = err.get("type", ""), err.get("ctx") or {}
    label = LABELS.get(field, f"The value of {field}" if field != "__all__" else "The value")
    given = err.get("input")
    value = f"{label} {_shown(given)} " if isinstance(given, (str, int, float)) else f"{label} "
    if kind == "date_range":
        field, message = "created_to", "The 'From' date must be on or before the 'To' date."
    elif kind == "date_out_of_range":
        message = (f"{value}is outside the dates we can look up: use a date from {ctx.get('first')} "
                   f"to {ctx.get('last')}.")
    elif kind == "literal_error":
        message = f"{value}is not one of {ctx.get('expected', 'the allowed values')}."
    elif kind.startswith("date_") or kind.startswith("datetime_"):
        message = f"{value}is not a date: use a date such as 2025-01-31."
    elif kind in ("int_parsing", "int_type", "int_from_float"):
        message = f"{value}is not a whole number."
    elif kind == "greater_than_equal":
        message = f"{label} must be at least {ctx.get('ge')}."
    elif kind == "less_than_equal":
        message = f"{label} must be at most {ctx.get('le')}."
    elif kind == "string_too_long":
        message = f"{label} can have at most {ctx.get('max_length')} characters."
    elif kind == "string_type":
        message = f"{label} must be a string."
    elif kind == "missing":
        message = f"{label} is required."
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
