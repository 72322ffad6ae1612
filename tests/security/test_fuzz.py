"""No 500 from input (issue 15, item 5): every route, every form field and query parameter the app
takes, driven with edge values (calendar edges, huge numbers, NUL, very long text), plus hostile
bodies (deep JSON, multipart without a boundary, wrong content types). Counts requests and 5xx.

Runs as a signed-in user who owns the task the URLs name (so the views do real work), through
Django's test client with exceptions turned into responses, as a browser would see them.
"""

import uuid

import pytest
from django.test import Client

from tasks.models import Task
from tests.security.routes import all_routes, example_urls
from tests.tasks.history_helpers import make_task, signed_in

# Not db_independent: edge values (year 9999, NUL, 10,000 characters) reach the filters and the search,
# where MariaDB can refuse what SQLite takes.
pytestmark = pytest.mark.django_db

TASK_ID = uuid.UUID("00000000-0000-4000-8000-0000000000f5")

# Every name a page, form or the API reads (views, django-ninja schemas, tasks.history.params).
FIELDS = ["page", "page_size", "status", "q", "created_from", "created_to", "ordering", "format", "engine",
          "language", "next", "username", "password", "ids", "action", "strict", "kind", "files"]

EDGES = ["9999-12-31", "0001-01-01", "10000-01-01", "2025-02-30", "-1", "0", "1e308", "NaN",
         "99999999999999999999999999", "\x00", "a\x00b", "", " ", "x" * 10_000, "../../etc/passwd",
         "<script>alert(1)</script>", "%00", "Ｋ\u212a\u200b😀", "true", "[]", "null"]
SHARP = ["9999-12-31", "0001-01-01", "99999999999999999999999999", "a\x00b"]  # also field by field

BODIES = [  # (content type, body)
    ("application/json", b"[" * 100_000 + b"]" * 100_000),
    ("application/json", b'{"engine": "tesseract", "language": "' + b"x" * 100_000 + b'"}'),
    ("application/json", b'{"format": "csv", "created_to": "9999-12-31", "created_from": 1e999}'),
    ("application/json", b'{"engine": "\\u0000", "ids": [' + b"1," * 50_000 + b"1]}"),
    ("application/json", b"{not json"),
    ("application/json", b"[]"),
    ("multipart/form-data", b"--x\r\nContent-Disposition: form-data; name=\"files\"\r\n\r\nabc\r\n--x--\r\n"),
    ("multipart/form-data; boundary=", b"--\r\n\r\n"),
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.png\""),
    ("application/x-www-form-urlencoded", b"status=completed&" * 2000),
    ("application/x-www-form-urlencoded", b"%ff%fe=%00&created_to=9999-12-31"),
    ("text/plain", b"\x00\xff" * 100),
]


HEALTH = ("/readyz", "/healthz")  # ?strict=1 (any true value) makes a degraded check a 503 on purpose


def _urls():
    urls = []
    for route in all_routes():
        urls += example_urls(route, TASK_ID)
    return urls


def _ensure_task(user):
    if not Task.objects.filter(pk=TASK_ID).exists():
        make_task(user, id=TASK_ID, status="failed", filename="fuzz.png", with_files=True)


def test_no_input_gives_a_5xx(user_a, settings):
    settings.LOGIN_MAX_ATTEMPTS_PER_IP = 10_000_000  # the sign-in form is fuzzed too
    settings.LOGIN_MAX_ATTEMPTS_PER_ACCOUNT = 10_000_000
    client = Client(raise_request_exception=False)
    counts, failures = {"requests": 0, "5xx": 0}, []

    def send(method, url, **kwargs):
        response = getattr(client, method)(url, **kwargs)
        counts["requests"] += 1
        if response.status_code == 503 and url in HEALTH:
            return  # a health check's 503 is its answer about a dependency, not a failure to read input
        if response.status_code >= 500:
            counts["5xx"] += 1
            body = b"" if getattr(response, "streaming", False) else response.content[:200]
            failures.append((response.status_code, method, url, str(kwargs)[:160], body))

    for url in _urls():
        _ensure_task(user_a)
        signed_in(client, user_a)
        for value in EDGES:
            params = {name: value for name in FIELDS if name != "files"}
            send("get", url, data=params)
            send("post", url, data=params)
        for name in FIELDS:
            for value in SHARP:
                send("get", url, data={name: value})
        for content_type, body in BODIES:
            send("post", url, data=body, content_type=content_type)
        send("get", url, data={"status": ["completed"] * 2000})
    print(f"fuzz: {counts['requests']} requests over {len(_urls())} URLs, {counts['5xx']} answered 5xx")
    assert not failures, "\n".join(map(repr, failures[:20]))
