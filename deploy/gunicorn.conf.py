"""gunicorn settings for Tool OCR's web process: `gunicorn -c deploy/gunicorn.conf.py tool_ocr.wsgi`.

Every value can be overridden from the environment (GUNICORN_*), so the systemd unit and the
Procfile share this file. OCR never runs here (db_worker does), so requests are short: a few
processes with threads each are enough; SQLite/MariaDB reads release the GIL.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 9)))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))  # a 50 MB upload on a slow link
graceful_timeout = 30
keepalive = 5
# Recycle processes now and then (memory); jitter so they do not all restart together.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = 500
# Tool OCR logs one JSON line per request itself (tool_ocr.request, with request and user ids).
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")
# Trust X-Forwarded-Proto only from the local reverse proxy.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
proc_name = "tool-ocr-web"


def on_starting(server):
    """Multiprocess metrics need their folder before any worker imports prometheus_client."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)


def post_worker_init(worker):
    """Load the URLconf (with the API's schemas) before the worker takes a request, not in its first one.

    About 0.15 s of CPU per process: the first person after every worker start or recycle (max_requests)
    waited for it, and benchmarks/load.py counted it in its run whenever its warm-up missed a worker.
    """
    from django.urls import get_resolver

    get_resolver()._populate()  # reads url_patterns, imports every view module, fills the reverse tables


def child_exit(server, worker):
    """A dead worker's live gauges must not be summed any more (its counters stay, as they should)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
