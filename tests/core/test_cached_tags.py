"""{% querystring %} and {% static %} with their answers kept per process (core/templatetags/cached_querystring.py,
cached_static.py): Django's answers, whichever request asks, because everything an answer depends on is in
the key (the query's items and encoding, the arguments with their types; the path and the settings)."""

import pytest
from django.http import QueryDict
from django.template import Context, RequestContext, Template, defaulttags
from django.templatetags.static import StaticNode
from django.test import RequestFactory

from core.templatetags import cached_querystring, cached_static

CASES = [
    ("", {}), ("", {"page": 2}), ("page=3&q=a+b", {"page": 2}), ("page=3&q=a+b", {"page": None}),
    ("status=failed&status=completed&page=2", {"ordering": "-filename", "page": None}),
    ("q=%C3%A9t%C3%A9+%26+%3Cb%3E", {"page": 1}), ("q=x", {"page": True}), ("q=x", {"page": 1.0}),
    ("q=x", {"status": ["a", "b"]}), ("", {"page": None}),
]


@pytest.mark.parametrize("query, kwargs", CASES)
def test_querystring_answers_as_djangos_tag(query, kwargs):
    context = RequestContext(RequestFactory().get("/history/?" + query))
    for _ in range(2):  # the second answer comes from what was kept
        assert cached_querystring.querystring(context, **kwargs) == defaulttags.querystring(context, **kwargs)


def test_each_request_gets_its_own_query():
    """Kept answers never cross requests: the key is the query itself, with each argument's type."""
    source = Template('<a href="{% querystring page=n %}">')
    seen = {}
    for query in ("q=alice", "q=bob", "q=alice&status=failed", ""):
        request = RequestFactory().get("/history/?" + query)
        html = source.render(RequestContext(request, {"n": 2}))
        assert html == '<a href="?' + (query.replace("&", "&amp;") + "&amp;" if query else "") + 'page=2">'
        seen[query] = html
    assert len(set(seen.values())) == 4
    one = Template("{% querystring page=n %}").render(RequestContext(RequestFactory().get("/"), {"n": 1}))
    true = Template("{% querystring page=n %}").render(RequestContext(RequestFactory().get("/"), {"n": True}))
    assert (one, true) == ("?page=1", "?page=True")


def test_querystring_of_a_given_query_dict_is_djangos():
    context = Context({"q": QueryDict("a=1&b=2")})
    assert Template("{% querystring q b=None %}").render(context) == "?a=1"


def test_static_answers_as_djangos_and_follows_the_settings(settings):
    source = Template("{% load cached_static %}{% static 'css/app.css' %} {% get_static_prefix %} {% get_media_prefix %}")
    assert source.render(Context()) == f"{StaticNode.handle_simple('css/app.css')} {settings.STATIC_URL} {settings.MEDIA_URL}"
    assert cached_static._url.cache_info().currsize >= 1
    settings.STATIC_URL = "/assets/v2/"  # setting_changed: what was kept is forgotten
    assert Template("{% load cached_static %}{% static 'css/app.css' %}").render(Context()) == "/assets/v2/css/app.css"


def test_equal_arguments_that_read_differently_each_get_djangos_answer():
    """Decimal("1.0") == Decimal("1.00") and a time equals the same instant in another zone: equal keys, but the
    tag writes str(value), which differs. Answers kept under the first would be served for the other."""
    from datetime import datetime, timedelta, timezone as dt_timezone
    from decimal import Decimal

    context = RequestContext(RequestFactory().get("/history/?q=x"))
    utc = datetime(2026, 12, 8, 1, 0, tzinfo=dt_timezone.utc)
    for first, second in ((Decimal("1.0"), Decimal("1.00")), (0.0, -0.0),
                          (utc, utc.astimezone(dt_timezone(timedelta(hours=1))))):
        for value in (first, second):
            assert cached_querystring.querystring(context, page=value) == defaulttags.querystring(context, page=value)


def test_a_long_query_is_answered_but_not_kept():
    """A query string is the client's: up to gunicorn's 4,094-character request line, three times that once
    URL-encoded. The history table writes ~26 links a page, each a kept answer: MAX_QUERIES of those would hold
    tens of MB per process. Long queries are answered by Django's tag each time."""
    cached_querystring._querystring.cache_clear()
    long = "/history/?q=x&note=" + "é" * 1000
    context = RequestContext(RequestFactory().get(long))
    for page in range(1, 30):
        assert cached_querystring.querystring(context, page=page) == defaulttags.querystring(context, page=page)
    assert cached_querystring._querystring.cache_info().currsize == 0
    short = RequestContext(RequestFactory().get("/history/?q=report&status=completed&ordering=-created_at"))
    assert cached_querystring.querystring(short, page=2) == defaulttags.querystring(short, page=2)
    assert cached_querystring._querystring.cache_info().currsize == 1
