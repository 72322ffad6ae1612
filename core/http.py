"""HTTP facts and request reading the app relies on in more than one place."""

import json

from ninja.params.models import Form, FormModel

from core.errors import AppError

# RFC 9110 9.2.1: methods that change nothing, so they need no CSRF token and are no attempt at a change.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def json_object(request) -> dict:
    """The request's JSON body, which must be an object; AppError ``invalid_json`` (400) otherwise."""
    try:
        body = json.loads(request.body) if request.body else {}
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python parses
        raise AppError("The body is not valid JSON.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise AppError("The body must be a JSON object.", code="invalid_json")
    return body


class _BodyOrQueryModel(FormModel):
    @classmethod
    def get_request_data(cls, request, api, path_params):
        lists = getattr(cls, "__ninja_collection_fields__", [])
        data = api.parser.parse_querydict(request.GET, lists, request)
        if request.content_type == "application/json":
            data.update(json_object(request))
        else:
            data.update(api.parser.parse_querydict(request.POST, lists, request))
        kept = {}
        for key, value in data.items():  # an empty field means "not given", as in the pages' forms
            if isinstance(value, list):
                value = [v for v in value if v not in ("", None)]
            if value not in ("", None, []):
                kept[key] = value
        return kept


class BodyOrQuery(Form):
    """A django-ninja parameter source for the contract's "JSON or form body" (the query string too):
    the Schema's fields from a JSON object or form fields, over the same names in the query string.
    Validated by the Schema like any django-ninja parameter, so errors are the API's usual 400."""

    _model = _BodyOrQueryModel
    # For the route's openapi_extra: the body may be left out (all its fields are optional or in the query).
    OPENAPI = {"requestBody": {"required": False}}

    @classmethod
    def _param_source(cls) -> str:
        return "form"  # how django-ninja builds and documents it
