"""Prometheus metrics at /metrics, for operators only (allowed addresses or a bearer token).

Two kinds of numbers, because web and OCR workers are separate processes:

* **Counted where they happen** (process-local, prometheus-client counters/histograms):
  sign-ins, auth API calls, HTTP requests, tasks created (web) and finished, OCR seconds per
  page and pages (worker). With ``PROMETHEUS_MULTIPROC_DIR`` set for the gunicorn workers
  and the ``db_worker`` processes of one host (see deploy/), /metrics adds them all up.
* **Read from the database at scrape time** (``DatabaseCollector``): queue depth, age of the
  oldest pending task, waiting and running tasks by engine, active users, the last sign of a
  worker (cached ``DB_CACHE_SECONDS``); tasks by status and stored bytes, which scan a
  million rows (cached ``DB_SLOW_CACHE_SECONDS``). These are right whichever process answers
  the scrape. benchmarks/admin_scale.py times an uncached scrape at a million tasks.
"""

import hmac
import ipaddress
import logging
import os
import shutil
import threading
import time

from django.conf import settings
from django.http import HttpResponse
from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram,
                               generate_latest)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

log = logging.getLogger("tool_ocr.metrics")

DB_CACHE_SECONDS = 30
DB_SLOW_CACHE_SECONDS = 300

# --- Counted where they happen ---------------------------------------------------
SIGN_INS = Counter("tool_ocr_sign_ins", "Sign-in attempts by outcome (success/failure) and reason",
                   ["outcome", "reason"])
AUTH_API_SECONDS = Histogram("tool_ocr_auth_api_seconds", "Company auth API call latency by operation and outcome",
                             ["operation", "outcome"],
                             buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30))
HTTP_REQUESTS = Counter("tool_ocr_http_requests", "HTTP responses by method and status code", ["method", "status"])
HTTP_SECONDS = Histogram("tool_ocr_http_request_seconds", "Time to answer an HTTP request",
                         buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10))
TASKS_CREATED = Counter("tool_ocr_tasks_created", "Tasks created, by engine", ["engine"])
TASKS_FINISHED = Counter("tool_ocr_tasks_finished", "Task runs finished by a worker, by engine and final status",
                         ["engine", "status"])
OCR_PAGE_SECONDS = Histogram("tool_ocr_ocr_page_seconds", "OCR seconds per page (a task's time over its pages)",
                             ["engine"], buckets=(0.5, 1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300))
PAGES_PROCESSED = Counter("tool_ocr_pages_processed", "Pages OCR'd by completed tasks, by engine", ["engine"])

_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def record_sign_in(outcome: str, reason: str = "ok") -> None:
    """Count one sign-in attempt; outcome is success or failure, reason a short stable code."""
    SIGN_INS.labels(outcome=outcome, reason=reason or "unknown").inc()


def observe_auth_call(operation: str, outcome: str, seconds: float) -> None:
    AUTH_API_SECONDS.labels(operation=operation or "unknown", outcome=outcome or "unknown").observe(max(0.0, seconds))


def observe_request(method: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method=method if method in _METHODS else "other", status=str(status)).inc()
    HTTP_SECONDS.observe(seconds)


def record_task_created(engine: str) -> None:
    TASKS_CREATED.labels(engine=engine or "unknown").inc()


def record_task_finished(engine: str, status: str, *, pages: int = 0, seconds: float | None = None) -> None:
    """A worker finished a run: count it, and for completed runs the pages and seconds per page."""
    engine = engine or "unknown"
    TASKS_FINISHED.labels(engine=engine, status=status).inc()
    if status == "completed" and pages > 0:
        PAGES_PROCESSED.labels(engine=engine).inc(pages)
        if seconds is not None and seconds >= 0:
            per_page = seconds / pages
            histogram = OCR_PAGE_SECONDS.labels(engine=engine)
            for _ in range(pages):
                histogram.observe(per_page)


# Reasons a sign-in fails: the codes of accounts/signin.py SignInError (the API's rate limit and our
# brute-force limit are told apart: rate_limited vs too_many_attempts).
SIGN_IN_FAILURE_REASONS = ("invalid_form", "invalid_credentials", "account_disabled", "account_locked",
                           "rate_limited", "too_many_attempts", "bad_response", "service_unavailable")


for _reason in ("ok",):
    SIGN_INS.labels(outcome="success", reason=_reason)
for _reason in SIGN_IN_FAILURE_REASONS:  # every series exists from the start, so increase() sees the first one
    SIGN_INS.labels(outcome="failure", reason=_reason)


class AuthCallMetricsFilter(logging.Filter):
    """Reads the auth client's per-call log lines (operation, outcome, latency_ms) into AUTH_API_SECONDS.

    accounts/external_auth.py logs every call once with these fields; measuring there keeps
    the client free of metrics code. Never drops a record.
    """

    def filter(self, record):
        latency = getattr(record, "latency_ms", None)
        if latency is not None:
            try:
                observe_auth_call(str(getattr(record, "operation", "")), str(getattr(record, "outcome", "")),
                                  float(latency) / 1000.0)
            except (TypeError, ValueError):
                pass
        return True


# --- Read at scrape time ------------------------------------------------------------
BREAKER_STATES = {"closed": 0, "half-open": 1, "open": 2}


def auth_breakers():
    """[(name, state, failures)] of the auth client's circuit breakers in this process.

    accounts.breaker.get_breaker() when the sign-in code has it; otherwise any pybreaker
    breaker at module level in accounts.external_auth.
    """
    try:
        from accounts import breaker as breaker_module
    except ImportError:
        breaker_module = None
    if breaker_module is not None and hasattr(breaker_module, "get_breaker"):
        try:
            b = breaker_module.get_breaker()
            return [("external_auth", str(b.state), int(b.fail_counter))]
        except Exception:  # settings missing in an odd deployment: no breaker to report
            return []
    try:
        import pybreaker

        from accounts import external_auth
    except Exception:  # pragma: no cover
        return []
    return [(getattr(v, "name", None) or k, str(v.current_state), int(v.fail_counter))
            for k, v in vars(external_auth).items() if isinstance(v, pybreaker.CircuitBreaker)]


def breaker_state() -> str:
    """closed, half-open or open (the worst of the auth client's breakers), or unknown."""
    states = [state for _, state, _ in auth_breakers()]
    if not states:
        return "unknown"
    return max(states, key=lambda s: BREAKER_STATES.get(s, -1))


class DatabaseCollector:
    """Gauges computed from the database (and the storage volume) when Prometheus scrapes.

    Two tiers: the queue and the workers (cheap, index ranges) at most every ``cache_seconds``;
    the totals that scan a million rows (tasks by status, stored bytes, users) at most every
    ``slow_cache_seconds``, since they move slowly.
    """

    def __init__(self, cache_seconds: float = DB_CACHE_SECONDS, slow_cache_seconds: float = DB_SLOW_CACHE_SECONDS):
        self.cache_seconds = cache_seconds
        self.slow_cache_seconds = slow_cache_seconds
        self._cached = None
        self._cached_at = 0.0
        self._slow = None
        self._slow_at = 0.0
        self._lock = threading.Lock()

    def reset(self):
        with self._lock:
            self._cached = self._slow = None

    def collect(self):
        yield from self._breaker_metrics()
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached_at >= self.cache_seconds:
                self._cached = list(self._database_metrics(_queue_metrics))
                self._cached_at = now
            if self._slow is None or now - self._slow_at >= self.slow_cache_seconds:
                self._slow = list(self._database_metrics(_total_metrics, "slow"))
                self._slow_at = now
            cached = self._cached + self._slow
        yield from cached

    def _breaker_metrics(self):
        state = GaugeMetricFamily("tool_ocr_auth_breaker_state",
                                  "Auth API circuit breaker in this process: 0 closed, 1 half-open, 2 open", labels=["name"])
        failures = GaugeMetricFamily("tool_ocr_auth_breaker_failures", "Consecutive failures counted by the breaker",
                                     labels=["name"])
        for name, current, failed in auth_breakers():
            state.add_metric([name], BREAKER_STATES.get(current, -1))
            failures.add_metric([name], failed)
        yield state
        yield failures

    def _database_metrics(self, reader, tier="fast"):
        suffix = "" if tier == "fast" else "_" + tier
        up = GaugeMetricFamily(f"tool_ocr_database_up{suffix}", "1 when the last scrape could read the database")
        started = time.monotonic()
        try:
            families = list(reader())
        except Exception:
            log.exception("metrics: database read failed")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families
        took = GaugeMetricFamily(f"tool_ocr_metrics_db_seconds{suffix}", "Time the database gauges took to compute")
        took.add_metric([], time.monotonic() - started)
        yield took


def _queue_metrics():
    """Waiting and running work, by index ranges on (status, ...): cheap at any table size."""
    from django.db.models import Count, Min
    from django.utils import timezone

    from tasks.models import Task

    now = timezone.now()
    active = GaugeMetricFamily("tool_ocr_tasks_active", "Pending and processing tasks by status and engine",
                               labels=["status", "engine"])
    seen = set()
    for row in (Task.objects.filter(status__in=Task.ACTIVE_STATUSES).order_by().values("status", "engine")
                .annotate(n=Count("id"))):
        active.add_metric([row["status"], row["engine"]], row["n"])
        seen.add(row["status"])
    for status in Task.ACTIVE_STATUSES:
        if status not in seen:  # a 0 rather than no series, for the alerts
            active.add_metric([status, "all"], 0)
    yield active

    pending = Task.objects.filter(status=Task.Status.PENDING).aggregate(n=Count("id"), oldest=Min("created_at"))
    depth = GaugeMetricFamily("tool_ocr_queue_depth", "Tasks waiting for a worker (pending)")
    depth.add_metric([], pending["n"])
    yield depth
    age = GaugeMetricFamily("tool_ocr_queue_oldest_pending_age_seconds", "Age of the oldest pending task (0 when none)")
    age.add_metric([], (now - pending["oldest"]).total_seconds() if pending["oldest"] else 0.0)
    yield age

    last = worker_last_seen()
    seen_age = GaugeMetricFamily("tool_ocr_worker_last_seen_age_seconds",
                                 "Seconds since a worker last showed life (task heartbeat); -1 when never")
    seen_age.add_metric([], (now - last).total_seconds() if last else -1)
    yield seen_age
    yield from _worker_outage_metrics(now)
    yield from _user_metrics()
    yield from _volume_metrics()


def _total_metrics():
    """Totals over the big tables: an index-only scan each."""
    from django.db.models import Count

    from tasks.models import Task

    by_status = GaugeMetricFamily("tool_ocr_tasks", "Tasks in the database by status", labels=["status"])
    counts = dict(Task.objects.order_by().values_list("status").annotate(n=Count("id")))
    for status in Task.Status.values:
        by_status.add_metric([status], counts.get(status, 0))
    yield by_status
    yield from _storage_metrics()


def _worker_outage_metrics(now):
    """Workers alive, and the database outages they waited through (tasks.worker.resilient)."""
    from datetime import timedelta

    from django.conf import settings
    from django.db.models import Count, Sum

    from tasks.models import WorkerPresence

    recent = now - timedelta(seconds=settings.READYZ_WORKER_MAX_AGE)
    alive = GaugeMetricFamily("tool_ocr_workers_alive", "Workers that showed life within READYZ_WORKER_MAX_AGE")
    alive.add_metric([], WorkerPresence.objects.filter(last_seen_at__gte=recent).count())
    yield alive
    totals = WorkerPresence.objects.aggregate(n=Count("pk"), outages=Sum("db_outages"), seconds=Sum("db_outage_seconds"))
    outages = CounterMetricFamily("tool_ocr_worker_db_outages",
                                  "Database outages the running workers waited through and reconnected after")
    outages.add_metric([], totals["outages"] or 0)
    yield outages
    waited = CounterMetricFamily("tool_ocr_worker_db_outage_seconds",
                                 "Seconds the running workers spent waiting for the database")
    waited.add_metric([], totals["seconds"] or 0.0)
    yield waited


def worker_last_seen():
    """The newest sign of life of any worker: its presence row (busy or idle), or a task heartbeat.

    Each task status is an index range (status, heartbeat_at), so this stays cheap.
    """
    from django.db.models import Max

    from tasks.models import Task, WorkerPresence

    values = []
    presence = WorkerPresence.objects.aggregate(m=Max("last_seen_at"))["m"]
    if presence:
        values.append(presence)
    for status in (Task.Status.PROCESSING, Task.Status.COMPLETED, Task.Status.FAILED):
        value = Task.objects.filter(status=status).aggregate(m=Max("heartbeat_at"))["m"]
        if value:
            values.append(value)
    return max(values) if values else None


def _storage_metrics():
    from django.db.models import Sum

    from tasks.models import TaskStorage

    stored = GaugeMetricFamily("tool_ocr_storage_bytes", "Bytes of task files recorded in the database")
    # one row per task, (user, created_at, bytes) covering index
    total = TaskStorage.objects.aggregate(b=Sum("bytes"))["b"]
    stored.add_metric([], total or 0)
    yield stored


def _volume_metrics():
    from django.core.files.storage import default_storage

    if getattr(settings, "FILE_STORAGE", "local") == "s3":  # a bucket has no volume to fill up
        return
    location = _existing_folder(getattr(default_storage, "location", None) or settings.MEDIA_ROOT)
    if location:
        usage = shutil.disk_usage(location)
        free = GaugeMetricFamily("tool_ocr_storage_volume_free_bytes", "Free bytes on the volume holding the task files")
        free.add_metric([], usage.free)
        yield free
        total = GaugeMetricFamily("tool_ocr_storage_volume_size_bytes", "Size of the volume holding the task files")
        total.add_metric([], usage.total)
        yield total


def _existing_folder(path):
    """The storage folder, or its nearest existing parent (the folder appears with the first file)."""
    if not path:
        return None
    path = os.path.abspath(str(path))
    while not os.path.isdir(path):
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent
    return path


def _user_metrics():
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from accounts.models import TokenSession

    now = timezone.now()
    active = GaugeMetricFamily("tool_ocr_active_users", "Distinct users with a live session active within the window",
                               labels=["window"])
    for label, delta in (("15m", timedelta(minutes=15)), ("1d", timedelta(days=1))):
        n = (TokenSession.objects.filter(revoked_at__isnull=True, last_activity_at__gte=now - delta)
             .values("user_id").distinct().count())
        active.add_metric([label], n)
    yield active
    users = GaugeMetricFamily("tool_ocr_users", "Users by state", labels=["state"])
    User = get_user_model()
    users.add_metric(["active"], User.objects.filter(is_active=True).count())
    users.add_metric(["inactive"], User.objects.filter(is_active=False).count())
    yield users


_db_collector = DatabaseCollector()


def registry() -> CollectorRegistry:
    """The registry for one scrape: all processes' counters (multiprocess mode) or this one's, plus the DB gauges."""
    reg = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(reg)
    else:
        reg.register(_ProcessCollector())
    reg.register(_db_collector)
    return reg


class _ProcessCollector:
    """This process's own metrics (the default registry), when not in multiprocess mode."""

    def collect(self):
        return REGISTRY.collect()


# --- Access ----------------------------------------------------------------
def _client_allowed(remote_addr: str) -> bool:
    """The client address (core.client_ip): behind a trusted proxy, the address the proxy saw."""
    try:
        address = ipaddress.ip_address((remote_addr or "").split("%")[0])
    except ValueError:
        return False
    for entry in settings.METRICS_ALLOWED_IPS:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _token_ok(request) -> bool:
    expected = settings.METRICS_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not expected or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[7:].strip().encode(), expected.encode())


def metrics_view(request):
    """Prometheus text format; 403 unless the caller's address is allowed or it sends the bearer token."""
    from core.client_ip import client_ip

    if not (_token_ok(request) or _client_allowed(client_ip(request) or "")):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)


# --- A worker host's own exporter (manage.py serve_metrics) ----------------------------
def host_registry() -> CollectorRegistry:
    """The counters of every process of this host (PROMETHEUS_MULTIPROC_DIR); no database gauges."""
    from prometheus_client import multiprocess

    reg = CollectorRegistry(auto_describe=False)
    multiprocess.MultiProcessCollector(reg)
    return reg


def host_metrics_app(environ, start_response):
    """WSGI app of serve_metrics: GET /metrics, the same access rules as the web's /metrics."""
    if environ.get("PATH_INFO", "") != "/metrics":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not found: the metrics are at /metrics\n"]
    header = environ.get("HTTP_AUTHORIZATION", "")
    token = settings.METRICS_TOKEN
    token_ok = bool(token) and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip().encode(),
                                                                                     token.encode())
    if not (token_ok or _client_allowed(environ.get("REMOTE_ADDR", ""))):
        start_response("403 Forbidden", [("Content-Type", "text/plain")])
        return [b"Forbidden\n"]
    body = generate_latest(host_registry())
    start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(body)))])
    return [body]
