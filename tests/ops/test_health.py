"""/healthz and /readyz: JSON, honest status codes, nothing secret."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from tasks.models import Task

pytestmark = pytest.mark.django_db(transaction=True)


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_readyz_all_ok_when_a_worker_showed_life_even_with_nothing_waiting(client):
    from tasks.models import WorkerPresence

    WorkerPresence.objects.create(worker_id="host:1:abc", last_seen_at=timezone.now())
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["storage"] == {"status": "ok"}
    assert body["checks"]["temp_folder"] == {"status": "ok"}
    assert body["checks"]["worker"]["status"] == "ok" and body["checks"]["worker"]["queue_depth"] == 0
    assert body["checks"]["auth_api"] == {"status": "ok", "breaker": "closed"}


def test_readyz_worker_not_seen_recently_is_not_ready_whatever_the_queue(client, settings):
    """Issue 16: a dead worker with nothing waiting used to read "idle" (ready) for minutes."""
    from tasks.models import WorkerPresence

    settings.READYZ_WORKER_MAX_AGE = 30
    WorkerPresence.objects.create(worker_id="host:1:abc", last_seen_at=timezone.now() - timedelta(seconds=31))
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200 and body["status"] == "degraded"  # the web still serves
    assert body["checks"]["worker"]["status"] == "stale" and body["checks"]["worker"]["last_seen_seconds_ago"] >= 31
    assert client.get("/readyz?strict=1").status_code == 503


def test_readyz_leaves_no_probe_file(client, settings):
    import os

    client.get("/readyz")
    assert os.listdir(settings.STORAGES["default"]["OPTIONS"]["location"]) == []


def test_readyz_worker_ok_after_recent_heartbeat(client, user_a, make_task):
    make_task(user_a, status="pending")
    make_task(user_a, status="processing")  # heartbeat now
    worker = client.get("/readyz").json()["checks"]["worker"]
    assert worker["status"] == "ok" and worker["last_seen_seconds_ago"] <= 5 and worker["queue_depth"] == 1


def test_readyz_worker_stale_is_degraded_not_down(client, user_a, make_task, settings):
    settings.READYZ_WORKER_MAX_AGE = 300
    old = make_task(user_a, status="completed", age_days=1)  # last heartbeat a day ago
    waiting = make_task(user_a, status="pending")
    Task.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200 and body["status"] == "degraded"
    assert body["checks"]["worker"]["status"] == "stale"
    assert body["checks"]["worker"]["oldest_pending_seconds"] >= 600
    strict = client.get("/readyz?strict=1")
    assert strict.status_code == 503 and strict.json()["checks"]["worker"]["status"] == "stale"
    assert old.pk  # the heartbeat came from this one


def test_readyz_reports_open_breaker(client):
    from accounts import breaker

    breaker.reset_breaker()
    b = breaker.get_breaker()
    try:
        for _ in range(b.fail_max):
            b.record_failure(RuntimeError("down"))
        body = client.get("/readyz").json()
    finally:
        breaker.reset_breaker()
    assert body["checks"]["auth_api"] == {"status": "degraded", "breaker": "open"}
    assert body["status"] == "degraded"


def test_readyz_unavailable_when_storage_is_not_writable(client, settings, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the storage folder should be")
    settings.STORAGES = {**settings.STORAGES,
                         "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                     "OPTIONS": {"location": str(blocker / "files")}}}
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["checks"]["storage"] == {"status": "unavailable"}
    assert str(tmp_path) not in response.content.decode()


def test_readyz_unavailable_when_database_fails(client, monkeypatch):
    from ops import health

    monkeypatch.setattr(health, "_database", lambda: "unavailable")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"status": "unavailable"}
    assert response.json()["checks"]["worker"] == {"status": "unknown"}


def test_health_answers_hold_no_secrets(client):
    text = client.get("/readyz").content.decode() + client.get("/healthz").content.decode()
    for secret in (django_settings.SECRET_KEY, str(django_settings.DATABASES["default"]["NAME"]),
                   str(django_settings.MEDIA_ROOT), django_settings.EXTERNAL_AUTH_API_URL):
        assert secret not in text
