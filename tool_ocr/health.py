"""Liveness (/healthz) and readiness (/readyz) as JSON. No secrets, no paths, no versions.

/healthz answers whether this process and its database work (restart it if not).
/readyz says whether it should take traffic: 503 when the database or the file storage
fail; the OCR worker and the auth API's breaker are reported (``status: degraded``) but
do not take the web out of service, because signed-in users can still browse and
download while either is down. ``?strict=1`` makes any non-ok check a 503, for monitors
that only read status codes. The checks' details (queue depth, breaker state) are shown only
to the addresses and token that may read /metrics; anyone else gets the overall status.
"""

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

log = logging.getLogger("tool_ocr.health")


def _database():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception:
        return "unavailable"


def _storage_check():
    """{"status"}, and on a bucket that fails also the reason in plain words (logged in full)."""
    from tool_ocr.object_storage import READYZ_DETAILS, check_bucket

    problem = check_bucket()
    if problem:
        log.error("readyz: %s", problem[1])
        return {"status": "unavailable", "reason": problem[0], "detail": READYZ_DETAILS[problem[0]]}
    return {"status": _storage()}


def _storage():
    """Write, read back and delete a small file through the storage API."""
    name = f".readyz-{uuid.uuid4().hex}"
    try:
        saved = default_storage.save(name, ContentFile(b"ok"))
        try:
            with default_storage.open(saved, "rb") as fh:
                ok = fh.read() == b"ok"
        finally:
            default_storage.delete(saved)
        return "ok" if ok else "unavailable"
    except Exception:
        return "unavailable"


def _worker():
    """ok / idle (nothing waiting) / stale (work waits and no worker showed life) / unknown (no database)."""
    from django.db.models import Count, Min

    from tasks.models import Task
    from tool_ocr.metrics import worker_last_seen

    try:
        now = timezone.now()
        max_age = timedelta(seconds=settings.READYZ_WORKER_MAX_AGE)
        last = worker_last_seen()
        pending = Task.objects.filter(status=Task.Status.PENDING).aggregate(n=Count("id"), oldest=Min("created_at"))
    except Exception:
        return {"status": "unknown"}
    recent = last is not None and now - last <= max_age
    waiting_long = pending["oldest"] is not None and now - pending["oldest"] > max_age
    if recent:
        status = "ok"
    elif waiting_long:
        status = "stale"
    else:
        status = "idle"
    return {"status": status,
            "last_seen_seconds_ago": round((now - last).total_seconds()) if last else None,
            "queue_depth": pending["n"],
            "oldest_pending_seconds": round((now - pending["oldest"]).total_seconds()) if pending["oldest"] else 0}


def _auth_api():
    from tool_ocr.metrics import breaker_state

    state = breaker_state()
    return {"status": "ok" if state in ("closed", "unknown") else "degraded", "breaker": state}


@never_cache
def healthz(request):
    db = _database()
    status = 200 if db == "ok" else 503
    return JsonResponse({"status": "ok" if status == 200 else "degraded", "database": db}, status=status)


@never_cache
def readyz(request):
    checks = {"database": {"status": _database()}, "storage": _storage_check()}
    checks["worker"] = _worker() if checks["database"]["status"] == "ok" else {"status": "unknown"}
    checks["auth_api"] = _auth_api()
    critical_ok = all(checks[name]["status"] == "ok" for name in ("database", "storage"))
    all_ok = critical_ok and checks["worker"]["status"] in ("ok", "idle") and checks["auth_api"]["status"] == "ok"
    strict = request.GET.get("strict") in ("1", "true", "yes")
    code = 200 if (all_ok if strict else critical_ok) else 503
    overall = "ok" if all_ok else ("degraded" if critical_ok else "unavailable")
    if not _may_see_details(request):  # the queue and the breaker are the operators' business
        return JsonResponse({"status": overall}, status=code)
    return JsonResponse({"status": overall, "checks": checks}, status=code)


def _may_see_details(request) -> bool:
    """Who may read /readyz's checks: the addresses and token that may read /metrics."""
    from accounts.client_ip import client_ip
    from tool_ocr.metrics import _client_allowed, _token_ok

    return _token_ok(request) or _client_allowed(client_ip(request) or "")
