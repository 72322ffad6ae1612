"""Serve this host's process metrics for Prometheus: one exporter per worker host (docs/scaling.md).

The OCR workers of a host write their counters (tasks finished, pages, OCR seconds per page)
to PROMETHEUS_MULTIPROC_DIR; a web host's /metrics adds them up for its own processes, but a
worker host has no web process. This small HTTP server answers GET /metrics with that
folder's sum, behind the same access rules as the web's /metrics (METRICS_ALLOWED_IPS or
METRICS_TOKEN). The database gauges (queue depth, ...) stay on the web's /metrics: they are
the same from every host, and scraping them once is enough.
"""

import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.core.management.base import BaseCommand, CommandError

from ops.metrics import host_metrics_app


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):  # scrapes every 15 s would flood the journal
        pass


class Command(BaseCommand):
    help = "Serve this host's worker metrics (PROMETHEUS_MULTIPROC_DIR) at http://BIND:PORT/metrics."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1; "
                                                                 "0.0.0.0 for a Prometheus on another machine)")
        parser.add_argument("--port", type=int, default=9101, help="port (default 9101; 0 picks a free one)")

    def handle(self, *args, bind, port, **options):
        import os

        folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if not folder or not os.path.isdir(folder):
            raise CommandError("PROMETHEUS_MULTIPROC_DIR is not set to an existing folder: set it to the folder the "
                               "workers of this host write their metrics to (e.g. /run/tool-ocr-metrics).")
        if not 0 <= port <= 65535:
            raise CommandError(f"--port {port} is not valid: use 0 to 65535.")
        try:
            server = make_server(bind, port, host_metrics_app, server_class=_Server, handler_class=_QuietHandler)
        except OSError as exc:
            raise CommandError(f"cannot listen on {bind}:{port} ({exc.strerror}).") from None
        host, real_port = server.server_address[:2]
        self.stdout.write(f"serve_metrics: serving {folder} at http://{host}:{real_port}/metrics")
        self.stdout.flush()
        sys.stdout.flush()
        try:
            server.serve_forever(poll_interval=0.5)
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
