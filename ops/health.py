"""Liveness (/healthz) and readiness (/readyz) as JSON. No secrets, no paths, no versions.

/healthz answers whether this process and its database work (restart it if not).
/readyz says whether it should take traffic: 503 when the database or the file storage
fail; the OCR worker and the auth API's breaker are reported (``status: degraded``) but
do not take the web out of service, because signed-in users can still browse and
download while either is down. ``?strict=1`` makes any non-ok check a 503, for monitors
that only read status codes. The checks' details (queue depth, breaker state) are shown only
to the addresses and token that may read /metrics; anyone else gets the overall status.

Every probe answers within HEALTH_CHECK_TIMEOUT seconds: the checks run in a small thread
pool, and a check still waiting (a frozen database, a hung storage mount) is reported
``timeout``; it is not started again while the earlier one still waits.
"""

import logging
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from core.errors import ConfigError

log = logging.getLogger("tool_ocr.health")


_pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="health")
_running: dict = {}
_lock = threading.Lock()


def _closing(func):
    def run():
        from django.db import connections

        try:
            return func()
        finally:
            connections.close_all()  # this pool thread's own connections
    return run


def _bounded(checks: dict) -> dict:
    """{name: result} of each ``checks[name]()``, or "timeout" for those not done by the deadline."""
    deadline = time.monotonic() + settings.HEALTH_CHECK_TIMEOUT
    futures = {}
    with _lock:
        for name, func in checks.items():
            future = _running.get(name)
            if future is None or future.done():
                future = _running[name] = _pool.submit(_closing(func))
            futures[name] = future
    results = {}
    for name, future in futures.items():
        try:
            results[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            results[name] = "timeout"
        except Exception:
            results[name] = "unavailable"
    return results


def _database():
    """{"status"}, and for a database made with the wrong character set the line that says how to fix it."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"status": "ok"}
    except ConfigError as exc:  # tool_ocr/db_backends/mysql/charset.py
        log.error("database check: %s", exc)
        return {"status": "unavailable", "reason": "character_set", "detail": str(exc)}
    except Exception:
        return {"status": "unavailable"}


def _storage_check():
    """{"status"}, and on a bucket that fails also the reason in plain words (logged in full)."""
    from tasks.files.object_storage import READYZ_DETAILS, check_bucket

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


def _temp_folder():
    """Uploads are streamed to the temporary folder (TMPDIR) first: it must take a file."""
    try:
        with tempfile.NamedTemporaryFile(prefix="tool-ocr-readyz-", dir=settings.FILE_UPLOAD_TEMP_DIR):
            pass
        return "ok"
    except Exception:
        return "unavailable"


def _worker():
    """ok (a worker showed life within READYZ_WORKER_MAX_AGE) or stale (none did, whatever the cause:
    crashed, killed, cut off from the database, never started); unknown without a database.

    Workers show life every few seconds, busy or idle (tasks.worker.resilient), so "not seen
    recently" means "not running", even when nothing waits.
    """
    from django.db.models import Count, Min

    from tasks.models import Task
    from ops.metrics import worker_last_seen

    try:
        now = timezone.now()
        max_age = timedelta(seconds=settings.READYZ_WORKER_MAX_AGE)
        last = worker_last_seen()
        pending = Task.objects.filter(status=Task.Status.PENDING).aggregate(n=Count("id"), oldest=Min("created_at"))
    except Exception:
        return {"status": "unknown"}
    recent = last is not None and now - last <= max_age
    return {"status": "ok" if recent else "stale",
            "last_seen_seconds_ago": round((now - last).total_seconds()) if last else None,
            "queue_depth": pending["n"],
            "oldest_pending_seconds": round((now - pending["oldest"]).total_seconds()) if pending["oldest"] else 0}


def _auth_api():
    from ops.metrics import breaker_state

    state = breaker_state()
    return {"status": "ok" if state in ("closed", "unknown") else "degraded", "breaker": state}


@never_cache
def healthz(request):
    found = _bounded({"database": _database})["database"]  # the same check as readyz's: one at a time
    db = found["status"] if isinstance(found, dict) else found
    status = 200 if db == "ok" else 503
    return JsonResponse({"status": "ok" if status == 200 else "degraded", "database": db}, status=status)


@never_cache
def readyz(request):
    found = _bounded({"database": _database, "storage": _storage_check, "temp": _temp_folder,
                      "worker": _worker})
    database, storage = ((found[name] if isinstance(found[name], dict) else {"status": found[name]})
                         for name in ("database", "storage"))
    checks = {"database": database, "storage": storage,
              "temp_folder": {"status": found["temp"]}}
    worker = found["worker"] if isinstance(found["worker"], dict) else {"status": "unknown"}
    checks["worker"] = worker if checks["database"]["status"] == "ok" else {"status": "unknown"}
    checks["auth_api"] = _auth_api()
    critical_ok = all(checks[name]["status"] == "ok" for name in ("database", "storage", "temp_folder"))
    all_ok = critical_ok and checks["worker"]["status"] == "ok" and checks["auth_api"]["status"] == "ok"
    strict = request.GET.get("strict") in ("1", "true", "yes")
    code = 200 if (all_ok if strict else critical_ok) else 503
    overall = "ok" if all_ok else ("degraded" if critical_ok else "unavailable")
    if not _may_see_details(request):  # the queue and the breaker are the operators' business
        return JsonResponse({"status": overall}, status=code)
    return JsonResponse({"status": overall, "checks": checks}, status=code)


def _may_see_details(request) -> bool:
    """Who may read /readyz's checks: the addresses and token that may read /metrics."""
    from core.client_ip import client_ip
    from ops.metrics import _client_allowed, _token_ok

    return _token_ok(request) or _client_allowed(client_ip(request) or "")


PROBE_PATHS = ("/healthz", "/readyz")


class ProbeMiddleware:
    """Answers the health probes before the session and sign-in run: a probe sent with a cookie
    must not wait on (or fail with) the database through the session lookup."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info in PROBE_PATHS and request.method in ("GET", "HEAD"):
            return (healthz if request.path_info == "/healthz" else readyz)(request)
        return self.get_response(request)
