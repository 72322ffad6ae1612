"""{% querystring %} with its answers remembered: the same tag, installed as a builtin over Django's (settings.TEMPLATES).

The history table writes about twenty links with it (each page number and column heading, twice), and
each call copied the request's QueryDict and encoded it again. Its answer depends only on the query's
items, their encoding and the tag's arguments (with their types: page=1 and page=True differ), so it is
kept per process for those, at most MAX_QUERIES of them; arguments that cannot be a key (a list), or whose
equal values read differently (a Decimal, a float, a time), are answered by Django's tag as before.
"""

from functools import lru_cache

from django import template
from django.template import defaulttags

MAX_QUERIES = 4096
# Longer queries (characters of the keys, values and string arguments) are answered by Django's tag each
# time: a query is the client's (up to gunicorn's 4,094-character request line; a character URL-encodes to
# up to 12), and MAX_QUERIES answers to those would hold tens of MB per process. The history's are under 200.
MAX_QUERY = 256

register = template.Library()


@lru_cache(maxsize=MAX_QUERIES)
def _querystring(lists, encoding, kwargs) -> str:
    from django.http import QueryDict

    query = QueryDict(mutable=True, encoding=encoding)
    for key, values in lists:
        query.setlist(key, list(values))
    return defaulttags.querystring(None, query, **{key: value for key, _type, value in kwargs})


def _plain(value) -> bool:
    """An argument whose equal values read the same (the tag writes str(value)): not Decimal("1.0") against
    Decimal("1.00"), -0.0 against 0.0, or one instant in two time zones, which are equal keys."""
    return value is None or type(value) in (int, bool) or isinstance(value, str)


@register.simple_tag(name="querystring", takes_context=True)
def querystring(context, query_dict=None, **kwargs):
    """Django's {% querystring %} (same arguments, same answer)."""
    query = context.request.GET if query_dict is None else query_dict
    try:
        if not all(_plain(value) for value in kwargs.values()):
            raise TypeError("not kept")
        lists = tuple((key, tuple(values)) for key, values in query.lists())
        size = sum(len(key) + sum(map(len, values)) for key, values in lists)
        if size + sum(len(value) for value in kwargs.values() if isinstance(value, str)) > MAX_QUERY:
            raise TypeError("not kept")
        return _querystring(lists, query.encoding, tuple((key, type(value), value) for key, value in kwargs.items()))
    except (TypeError, AttributeError):  # not a QueryDict, a long query, an argument not a key or not plain
        return defaulttags.querystring(context, query_dict, **kwargs)
