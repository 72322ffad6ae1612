"""``manage.py db_worker`` with every SQL statement counted (for benchmarks/workers.py only).

Django's ``execute_wrapper`` is installed on every database connection the worker opens; once a
second the totals (statements, seconds spent in them) go to the JSON file named by
BENCH_QUERY_LOG, so the benchmark can tell the load of an idle (polling) worker from a busy one.
The app itself is unchanged: this only wraps the real command.
"""

import json
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tool_ocr.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db.backends.signals import connection_created  # noqa: E402

totals = {"queries": 0, "seconds": 0.0}
lock = threading.Lock()


def count(execute, sql, params, many, context):
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        with lock:
            totals["queries"] += 1
            totals["seconds"] += time.perf_counter() - started


def on_connection(sender, connection, **kwargs):
    if count not in connection.execute_wrappers:
        connection.execute_wrappers.append(count)


def write_totals():
    path = Path(os.environ["BENCH_QUERY_LOG"])
    while True:
        with lock:
            snapshot = {**totals, "at": time.time()}
        path.write_text(json.dumps(snapshot))
        time.sleep(1.0)


connection_created.connect(on_connection)
from django.db import connections  # noqa: E402

for conn in connections.all():
    if conn.connection is not None:
        on_connection(None, conn)
threading.Thread(target=write_totals, daemon=True).start()
call_command("db_worker", *sys.argv[1:])
