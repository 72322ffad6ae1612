"""One client address (core/client_ip.py) for the audit log, log lines, metrics and sign-in limits."""

import io
import json
import logging

import pytest

from core.client_ip import client_ip, header_meta_key, resolve
from tests.accounts.conftest import sign_in
from tool_ocr.config import Config, ConfigError


@pytest.mark.parametrize("written", ["X-Forwarded-For", "x-forwarded-for", "HTTP_X_FORWARDED_FOR", " X_Forwarded_For "])
def test_the_header_is_accepted_as_people_write_it_and_as_django_names_it(written):
    assert header_meta_key(written) == "HTTP_X_FORWARDED_FOR"


def test_the_proxy_header_is_believed_only_from_a_trusted_proxy(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]
    assert resolve("127.0.0.1", "203.0.113.9") == "203.0.113.9"
    # A client reaching gunicorn directly cannot name another address.
    assert resolve("198.51.100.7", "203.0.113.9") == "198.51.100.7"
    # Read from the right: the first address that is not a trusted proxy; spoofed entries on the left are ignored.
    assert resolve("127.0.0.1", "1.1.1.1, 203.0.113.9, 10.0.0.5") == "203.0.113.9"
    # Only proxies in the chain: the leftmost of them.
    assert resolve("127.0.0.1", "10.0.0.6, 10.0.0.5") == "10.0.0.6"
    # Garbage in the header: the last good hop, never the garbage.
    assert resolve("127.0.0.1", "not-an-ip") == "127.0.0.1"
    assert resolve("127.0.0.1", "evil, 203.0.113.9") == "203.0.113.9"
    assert resolve("127.0.0.1", "[2001:db8::1]:443") == "2001:db8::1"
    assert resolve("", "203.0.113.9") is None


def test_bad_settings_stop_the_start_with_a_clear_message(monkeypatch):
    monkeypatch.setenv("TRUSTED_PROXIES", "127.0.0.1,nonsense")
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES has 'nonsense'"):
        Config().networks("TRUSTED_PROXIES", "")
    monkeypatch.setenv("CLIENT_IP_HEADER", "X-Forwarded-For: 1.2.3.4")
    with pytest.raises(ConfigError, match="CLIENT_IP_HEADER=.*use a header name such as X-Forwarded-For"):
        Config().header_name("CLIENT_IP_HEADER", "")


@pytest.fixture
def behind_proxy(settings):
    settings.CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"  # the spelling the old nginx example used
    settings.TRUSTED_PROXIES = ["127.0.0.1", "::1"]


@pytest.mark.django_db
def test_download_audit_row_and_log_line_hold_the_client_address(client, user_a, behind_proxy):
    from core.models import AuditLog
    from tests.ops.conftest import signed_in
    from tests.tasks.history_helpers import make_task

    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    buffer = io.StringIO()
    old = handler.setStream(buffer)
    logging.getLogger().setLevel(logging.INFO)
    try:
        signed_in(client, user_a)
        task = make_task(user_a, with_files=True)
        response = client.get(f"/api/v1/tasks/{task.pk}/original", HTTP_X_FORWARDED_FOR="203.0.113.9")
    finally:
        handler.setStream(old)
    assert response.status_code == 200
    row = AuditLog.objects.filter(action="file.download").latest("id")
    assert row.ip_address == "203.0.113.9"
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    request_line = [line for line in lines if line["message"] == "request"][-1]
    assert request_line["ip"] == "203.0.113.9"


@pytest.mark.django_db
def test_a_direct_client_cannot_spoof_its_address(client, user_a, behind_proxy):
    from core.models import AuditLog
    from tests.ops.conftest import signed_in
    from tests.tasks.history_helpers import make_task

    signed_in(client, user_a)
    task = make_task(user_a, with_files=True)
    client.get(f"/api/v1/tasks/{task.pk}/original", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="10.0.0.1")
    assert AuditLog.objects.filter(action="file.download").latest("id").ip_address == "198.51.100.7"


@pytest.mark.django_db
def test_metrics_see_the_client_behind_the_proxy_not_the_proxy(client, settings, behind_proxy):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    settings.METRICS_TOKEN = ""
    # Before: every request through a local proxy came from 127.0.0.1 and was let in.
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403
    assert client.get("/metrics").status_code == 200


@pytest.mark.django_db
def test_sign_in_limit_counts_per_client_behind_the_proxy(client, settings, behind_proxy):
    settings.LOGIN_MAX_ATTEMPTS_PER_IP = 3
    settings.LOGIN_MAX_ATTEMPTS_PER_ACCOUNT = 100
    for i in range(3):
        assert sign_in(client, f"guess{i}@example.com", "wrong", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 401
    assert sign_in(client, HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 429
    assert sign_in(client, HTTP_X_FORWARDED_FOR="203.0.113.10").status_code == 302


def test_client_ip_is_computed_once_per_request(rf, settings):
    settings.CLIENT_IP_HEADER = ""
    request = rf.get("/", REMOTE_ADDR="192.0.2.1")
    assert client_ip(request) == "192.0.2.1"
    request.META["REMOTE_ADDR"] = "192.0.2.2"
    assert client_ip(request) == "192.0.2.1"
    assert client_ip(None) is None
