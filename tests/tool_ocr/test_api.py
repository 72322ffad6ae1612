"""tool_ocr/api.py: the OpenAPI schema is built once per process and path prefix, and stays right for each prefix."""

from unittest import mock

import ninja.main
import pytest
from django.urls import get_script_prefix, set_script_prefix

# db_independent: the API's description is made from the code; no query
pytestmark = pytest.mark.db_independent


def test_the_schema_is_built_once_and_served_again(client):
    first = client.get("/api/v1/openapi.json")
    with mock.patch.object(ninja.main, "get_schema", wraps=ninja.main.get_schema) as build:
        again = client.get("/api/v1/openapi.json")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and "/api/v1/tasks" in again.json()["paths"]
    assert build.call_count == 0


def test_each_script_prefix_has_its_own_paths(client):
    """Behind a proxy at /ocr/ (SCRIPT_NAME), the paths the schema names start with it; the schema built
    for / is not served there, nor the other way round."""
    client.get("/api/v1/openapi.json")
    before = get_script_prefix()
    set_script_prefix("/ocr/")  # as Django's WSGI handler does from SCRIPT_NAME; the test client does not
    try:
        prefixed = client.get("/api/v1/openapi.json").json()["paths"]
    finally:
        set_script_prefix(before)
    plain = client.get("/api/v1/openapi.json").json()["paths"]
    assert "/ocr/api/v1/tasks/{task_id}" in prefixed and "/api/v1/tasks/{task_id}" not in prefixed
    assert "/api/v1/tasks/{task_id}" in plain and not any(p.startswith("/ocr/") for p in plain)


def test_a_changed_schema_does_not_change_what_later_requests_get(client):
    """Whoever asks for the schema gets their own copy: one that edits it (a script adding `servers`, a test
    dropping a path) cannot change what every later request of the process is served."""
    from tool_ocr.api import api

    served = client.get("/api/v1/openapi.json").json()
    mine = api.get_openapi_schema(path_prefix="/api/v1/")
    mine["paths"].clear()
    mine["info"]["title"] = "changed"
    mine["servers"] = [{"url": "https://elsewhere.example"}]
    assert client.get("/api/v1/openapi.json").json() == served
    assert api.get_openapi_schema(path_prefix="/api/v1/") == served
