"""/metrics: who may read it, and that each number says what happened."""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from accounts.models import TokenSession
from ops import metrics

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh_db_gauges():
    metrics._db_collector.reset()
    yield
    metrics._db_collector.reset()


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(client, **headers):
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    values = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for s in family.samples:
            values[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return values


def value(values, metric, **labels):
    return values.get((metric, tuple(sorted(labels.items()))))


# --- Access -----------------------------------------------------------------------
def test_allowed_address_gets_metrics(client, settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200


def test_other_address_is_refused_without_token(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    assert client.get("/metrics", REMOTE_ADDR="192.168.1.5").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    # a forwarded header is not believed
    assert client.get("/metrics", REMOTE_ADDR="192.168.1.5", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="192.168.1.5", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    ok = client.get("/metrics", REMOTE_ADDR="192.168.1.5", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token")
    assert ok.status_code == 200 and b"tool_ocr_queue_depth" in ok.content


def test_empty_token_never_matches(client, settings):
    settings.METRICS_ALLOWED_IPS = []
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer").status_code == 403


def test_bad_allowed_ips_stop_start_up():
    env = {**os.environ, "DEBUG": "true", "METRICS_ALLOWED_IPS": "127.0.0.1,not-an-ip"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "METRICS_ALLOWED_IPS has 'not-an-ip'" in result.stderr


# --- Database gauges ----------------------------------------------------------------
def test_database_gauges(client, user_a, user_b, make_task):
    now = timezone.now()
    make_task(user_a)  # completed, 29 bytes: 4 original + 12 txt + 13 json
    make_task(user_b, status="failed", engine="tesseract")
    oldest = make_task(user_a, status="pending")
    from tasks.models import Task

    Task.objects.filter(pk=oldest.pk).update(created_at=now - timedelta(minutes=10))
    make_task(user_b, status="pending")
    TokenSession.objects.create(user=user_a, session_key="a" * 32, last_activity_at=now - timedelta(minutes=5))
    TokenSession.objects.create(user=user_b, session_key="b" * 32, last_activity_at=now - timedelta(hours=3))
    TokenSession.objects.create(user=user_b, session_key="c" * 32, last_activity_at=now, revoked_at=now)

    v = scrape(client)
    assert value(v, "tool_ocr_database_up") == 1
    assert value(v, "tool_ocr_tasks", status="completed") == 1
    assert value(v, "tool_ocr_tasks", status="failed") == 1
    assert value(v, "tool_ocr_tasks", status="pending") == 2
    assert value(v, "tool_ocr_tasks", status="cancelled") == 0
    assert value(v, "tool_ocr_tasks_active", status="pending", engine="easyocr") == 2
    assert value(v, "tool_ocr_tasks_active", status="processing", engine="all") == 0
    assert value(v, "tool_ocr_queue_depth") == 2
    assert 595 <= value(v, "tool_ocr_queue_oldest_pending_age_seconds") <= 700
    assert value(v, "tool_ocr_storage_bytes") == 29 + 4 + 4 + 4  # one completed task, three with an original only
    assert value(v, "tool_ocr_storage_volume_free_bytes") > 0
    assert value(v, "tool_ocr_active_users", window="15m") == 1
    assert value(v, "tool_ocr_active_users", window="1d") == 2
    assert value(v, "tool_ocr_users", state="active") == 2
    assert value(v, "tool_ocr_worker_last_seen_age_seconds") >= 0


def test_database_gauges_are_cached_between_scrapes(client, user_a, make_task):
    make_task(user_a, status="pending")
    assert value(scrape(client), "tool_ocr_queue_depth") == 1
    make_task(user_a, status="pending")
    assert value(scrape(client), "tool_ocr_queue_depth") == 1  # within DB_CACHE_SECONDS
    metrics._db_collector._cached_at -= metrics.DB_CACHE_SECONDS
    assert value(scrape(client), "tool_ocr_queue_depth") == 2


def test_breaker_state_gauge(client):
    from accounts import breaker

    breaker.reset_breaker()
    b = breaker.get_breaker()
    assert value(scrape(client), "tool_ocr_auth_breaker_state", name="external_auth") == 0
    try:
        for _ in range(b.fail_max):
            b.record_failure(RuntimeError("down"))
        v = scrape(client)
        assert value(v, "tool_ocr_auth_breaker_state", name="external_auth") == 2
        assert metrics.breaker_state() == "open"
    finally:
        breaker.reset_breaker()


# --- Counted where they happen ------------------------------------------------------
def test_sign_in_outcomes_and_auth_api_latency(client, dev_auth_api):
    ok_before = sample("tool_ocr_sign_ins_total", outcome="success", reason="ok")
    bad_before = sample("tool_ocr_sign_ins_total", outcome="failure", reason="invalid_credentials")
    calls_before = sample("tool_ocr_auth_api_seconds_count", operation="login", outcome="200")
    refused_before = sample("tool_ocr_auth_api_seconds_count", operation="login", outcome="401")

    wrong = client.post("/login/", {"username": "ada.lin@example.com", "password": "wrong-password"})
    assert wrong.status_code == 401
    right = client.post("/login/", {"username": "ada.lin@example.com", "password": "demo-password"})
    assert right.status_code == 302

    assert sample("tool_ocr_sign_ins_total", outcome="failure", reason="invalid_credentials") == bad_before + 1
    assert sample("tool_ocr_sign_ins_total", outcome="success", reason="ok") == ok_before + 1
    assert sample("tool_ocr_auth_api_seconds_count", operation="login", outcome="200") == calls_before + 1
    assert sample("tool_ocr_auth_api_seconds_count", operation="login", outcome="401") == refused_before + 1
    assert sample("tool_ocr_auth_api_seconds_sum", operation="login", outcome="200") > 0


def test_sign_in_service_unavailable_counted(client, dev_auth_api):
    from accounts import breaker

    breaker.reset_breaker()
    dev_auth_api.configure(fail_mode="503")
    before = sample("tool_ocr_sign_ins_total", outcome="failure", reason="service_unavailable")
    try:
        response = client.post("/login/", {"username": "ada.lin@example.com", "password": "demo-password"})
    finally:
        dev_auth_api.reset()
        breaker.reset_breaker()
    assert response.status_code == 503
    assert sample("tool_ocr_sign_ins_total", outcome="failure", reason="service_unavailable") == before + 1


def test_http_requests_and_tasks_created(client, user_a, make_task):
    before = sample("tool_ocr_http_requests_total", method="GET", status="200")
    created = sample("tool_ocr_tasks_created_total", engine="tesseract")
    client.get("/healthz")
    make_task(user_a, engine="tesseract")
    assert sample("tool_ocr_http_requests_total", method="GET", status="200") == before + 1
    assert sample("tool_ocr_tasks_created_total", engine="tesseract") == created + 1


def test_finished_job_is_counted_through_the_task_signal(settings, user_a, make_task):
    """The real django-tasks signal path: a job for a task that is not pending finishes as 'skipped'."""
    from tasks.jobs import process_task

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    task = make_task(user_a, engine="easyocr")  # completed: the job skips it without OCR
    before = sample("tool_ocr_tasks_finished_total", engine="easyocr", status="skipped")
    result = process_task.enqueue(str(task.pk))
    assert result.return_value == "skipped"
    assert sample("tool_ocr_tasks_finished_total", engine="easyocr", status="skipped") == before + 1


def test_completed_run_records_pages_and_seconds_per_page():
    pages = sample("tool_ocr_pages_processed_total", engine="unit")
    metrics.record_task_finished("unit", "completed", pages=4, seconds=10.0)
    assert sample("tool_ocr_pages_processed_total", engine="unit") == pages + 4
    assert sample("tool_ocr_ocr_page_seconds_count", engine="unit") == 4
    assert sample("tool_ocr_ocr_page_seconds_sum", engine="unit") == pytest.approx(10.0)
    assert sample("tool_ocr_ocr_page_seconds_bucket", engine="unit", le="2.0") == 0
    assert sample("tool_ocr_ocr_page_seconds_bucket", engine="unit", le="5.0") == 4
    metrics.record_task_finished("unit", "failed", pages=4, seconds=10.0)
    assert sample("tool_ocr_tasks_finished_total", engine="unit", status="failed") == 1
    assert sample("tool_ocr_pages_processed_total", engine="unit") == pages + 4


SCRIPT = """
import django, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tool_ocr.settings")
django.setup()
from ops import metrics
if sys.argv[1] == "record":
    metrics.record_task_finished("easyocr", "completed", pages=3, seconds=6.0)
    metrics.record_sign_in("failure", "invalid_credentials")
else:
    from prometheus_client import generate_latest
    sys.stdout.write(generate_latest(metrics.registry()).decode())
"""


def test_multiprocess_mode_adds_up_worker_and_web_processes(tmp_path):
    """Deployment mode: workers and web share PROMETHEUS_MULTIPROC_DIR; a scrape sums every process."""
    shared = tmp_path / "prom"
    shared.mkdir()
    env = {**os.environ, "DEBUG": "true", "PROMETHEUS_MULTIPROC_DIR": str(shared),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'none.sqlite3'}"}
    for _ in range(2):  # two worker processes
        subprocess.run([sys.executable, "-c", SCRIPT, "record"], cwd=ROOT, env=env, check=True, capture_output=True)
    out = subprocess.run([sys.executable, "-c", SCRIPT, "scrape"], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    families = {f.name: f for f in text_string_to_metric_families(out)}
    finished = {tuple(sorted(s.labels.items())): s.value for s in families["tool_ocr_tasks_finished"].samples}
    assert finished[(("engine", "easyocr"), ("status", "completed"))] == 2
    pages = [s.value for s in families["tool_ocr_pages_processed"].samples if s.name.endswith("_total")]
    assert pages == [6]
    assert "tool_ocr_database_up 0.0" in out  # no tables in that database: reported, not crashed
    json.dumps(out)  # plain text


def test_auth_latency_is_measured_even_when_info_lines_are_not_shown(client, dev_auth_api):
    import logging

    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    root = logging.getLogger()
    old_root, old_handler = root.level, handler.level
    root.setLevel(logging.WARNING)
    handler.setLevel(logging.WARNING)
    try:
        before = sample("tool_ocr_auth_api_seconds_count", operation="login", outcome="401")
        client.post("/login/", {"username": "ada.lin@example.com", "password": "wrong-password"})
        assert sample("tool_ocr_auth_api_seconds_count", operation="login", outcome="401") == before + 1
    finally:
        root.setLevel(old_root)
        handler.setLevel(old_handler)


def test_the_apis_rate_limit_and_our_attempt_limit_are_counted_apart(client, dev_auth_api, settings):
    from accounts import breaker

    breaker.reset_breaker()
    settings.EXTERNAL_AUTH_RETRIES = 0
    dev_auth_api.configure(fail_mode="429", retry_after=600)  # longer than we wait: answered at once
    rate_before = sample("tool_ocr_sign_ins_total", outcome="failure", reason="rate_limited")
    try:
        response = client.post("/login/", {"username": "ada.lin@example.com", "password": "demo-password"})
    finally:
        dev_auth_api.reset()
        breaker.reset_breaker()
    assert response.status_code == 429
    assert sample("tool_ocr_sign_ins_total", outcome="failure", reason="rate_limited") == rate_before + 1

    settings.LOGIN_MAX_ATTEMPTS_PER_ACCOUNT = 2
    limit_before = sample("tool_ocr_sign_ins_total", outcome="failure", reason="too_many_attempts")
    for _ in range(3):
        last = client.post("/login/", {"username": "ada.lin@example.com", "password": "wrong-password"})
    assert last.status_code == 429
    assert sample("tool_ocr_sign_ins_total", outcome="failure", reason="too_many_attempts") == limit_before + 1
