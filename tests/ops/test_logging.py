"""Log lines: JSON, one per line, with request and user ids; never a password, token or document text."""

import io
import json
import logging

import pytest

from tests.ops.conftest import signed_in
from tool_ocr.logging import REDACTED, scrub

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def log_lines():
    """The real console handler (settings.LOGGING) writing into a buffer; returns a reader of parsed lines."""
    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    buffer = io.StringIO()
    old = handler.setStream(buffer)
    logging.getLogger().setLevel(logging.INFO)

    def read():
        raw = buffer.getvalue()
        return raw, [json.loads(line) for line in raw.splitlines() if line.strip()]

    yield read
    handler.setStream(old)


def test_every_line_is_json_with_time_level_logger_message(log_lines):
    logging.getLogger("tool_ocr.test").warning("hello %s", "there", extra={"task_id": "t-1"})
    _raw, lines = log_lines()
    assert lines[-1]["message"] == "hello there"
    assert lines[-1]["level"] == "WARNING" and lines[-1]["logger"] == "tool_ocr.test"
    assert lines[-1]["task_id"] == "t-1" and "time" in lines[-1]


def test_request_lines_carry_request_and_user_id(client, user_a, log_lines):
    signed_in(client, user_a)
    response = client.get("/")
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32
    _raw, lines = log_lines()
    access = [line for line in lines if line["message"] == "request"]
    assert access[-1] == {**access[-1], "request_id": request_id, "user_id": user_a.pk, "method": "GET", "path": "/",
                          "status": 200}
    assert access[-1]["duration_ms"] >= 0


def test_incoming_request_id_is_kept_only_when_plain(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="abc-123-def-456")["X-Request-ID"] == "abc-123-def-456"
    replaced = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")["X-Request-ID"]
    assert replaced != "bad id\nwith newline" and len(replaced) == 32


def test_sign_in_is_logged_without_password_or_tokens(client, log_lines):
    from accounts import crypto
    from accounts.models import TokenSession

    client.post("/login/", {"username": "ada.lin@example.com", "password": "wrong-password"})
    client.post("/login/", {"username": "ada.lin@example.com", "password": "demo-password"})
    raw, lines = log_lines()
    session = TokenSession.objects.get(user__email="ada.lin@example.com")
    secrets = ["demo-password", "wrong-password", crypto.decrypt(session.access_token_enc),
               session.access_token_enc, session.session_key]
    if session.refresh_token_enc:
        secrets.append(crypto.decrypt(session.refresh_token_enc))
    for secret in secrets:
        assert secret and secret not in raw
    attempts = [line for line in lines if line["message"] == "sign-in attempt"]
    assert attempts and attempts[-1]["outcome"] == "success"
    login_posts = [line for line in lines if line["message"] == "request" and line.get("path") == "/login/"]
    assert [line["status"] for line in login_posts] == [401, 302]
    assert login_posts[-1]["user_id"] == session.user_id  # known from the moment of sign-in


def test_file_access_logged_without_document_text(client, user_a, make_task, log_lines):
    from tasks.files.file_links import file_url

    task = make_task(user_a)
    signed_in(client, user_a)
    response = client.get(file_url(task.pk, "result_txt"))
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"hello world\n"
    raw, lines = log_lines()
    assert "hello world" not in raw
    audit = [line for line in lines if line["message"] == "audit"]
    assert audit[-1]["action"] == "file.download" and audit[-1]["object_id"] == str(task.pk)
    assert audit[-1]["user_id"] == user_a.pk and audit[-1]["request_id"]


def test_redaction_filter_masks_secret_fields_and_values(log_lines):
    log = logging.getLogger("tool_ocr.test")
    log.info("calling with Authorization: Bearer abcdefghijklmnop123 and password=hunter22",
             extra={"password": "hunter22", "access_token": "tok-123456", "text": "CONFIDENTIAL CONTRACT",
                    "details": {"refresh_token": "r-999", "kind": "result.txt"}})
    log.info("jwt %s", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl")
    try:
        raise ValueError("token=supersecretvalue")
    except ValueError:
        log.exception("failed")
    raw, lines = log_lines()
    for secret in ("hunter22", "tok-123456", "CONFIDENTIAL", "r-999", "abcdefghijklmnop123", "eyJzdWIiOiIxMjMifQ",
                   "supersecretvalue"):
        assert secret not in raw
    first = lines[-3]
    assert first["password"] == REDACTED and first["access_token"] == REDACTED and first["text"] == REDACTED
    assert first["details"] == {"refresh_token": REDACTED, "kind": "result.txt"}
    assert "Bearer [redacted]" in first["message"] and "password=[redacted]" in first["message"]
    assert "exc_info" in lines[-1] and "ValueError" in lines[-1]["exc_info"]


def test_scrub_leaves_ordinary_text():
    assert scrub("task 5 completed in 3.2 s for alice@example.com") == "task 5 completed in 3.2 s for alice@example.com"
