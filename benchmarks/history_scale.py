#!/usr/bin/env python
"""History, stats and export at a million tasks, on MariaDB.

Fills a scratch database of its own (migrated like production) with 1,000,000 tasks over
1,000 users, one of them heavy with 100,000, and their files (an original for every task,
txt/json/pdf results for completed ones), then measures the server time of the pages as a
signed-in browser gets them (Django's test client through the whole middleware stack):
the history page without a filter, with each filter, sorted by each column, deep pages;
the JSON list (which keeps an exact count); the statistics; a 10,000-row export and a
100,000-row export with its peak Python memory. Every case prints p50/p95 over repeated
requests and the EXPLAIN of each of its queries.

    .venv/bin/python benchmarks/history_scale.py            # fill (a few minutes) and measure
    .venv/bin/python benchmarks/history_scale.py --reuse    # measure again on the filled database
    .venv/bin/python benchmarks/history_scale.py --drop     # remove the scratch database
    .venv/bin/python benchmarks/history_scale.py --search-only --database toolocr_bench_x  # search cases only
    .venv/bin/python benchmarks/history_scale.py --sqlite /tmp/h.sqlite3 --search-only     # the same on SQLite

Every completed task also gets a page of text (search_text.py: ~230 words of business
prose from a 6,000-word vocabulary, names, numbers, dates; one task in 20 a Chinese page;
100,000 distinct pages dealt out in turn, so no user has the same page twice) in task_texts, indexed as tasks/history/search.py does, so the search cases (issue 10) measure a
word, a word prefix, a very common word, a name and Chinese substrings of 2 and 3 characters,
each with ten different queries, on the history page and the JSON list.

Goal (issue 5): p95 <= 50 ms per history page and <= 100 ms for the statistics.
Goal (issue 10): p95 <= 100 ms for a word and for a Chinese substring.
The admin URL of the server comes from MYSQL_ADMIN_URL (default: root over the local socket).
"""

import argparse
import math
import os
import itertools
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import datetime, timedelta, timezone as dt_timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ops.mysql_admin import MySQLServer  # noqa: E402

DB_NAME = "toolocr_bench_history"
WORDS = ("invoice", "contract", "letter", "receipt", "scan", "statement", "report", "memo", "delivery-note",
         "passport", "payslip", "order", "quote", "minutes", "policy", "claim")
EXTS = (("png", "image/png"), ("jpg", "image/jpeg"), ("pdf", "application/pdf"), ("tif", "image/tiff"))
DAYS = 180
PAGE_POOL = int(os.environ.get("BENCH_PAGE_POOL", 100_000))  # distinct pages of text (search_text.py), more than the heavy user's 86,000 completed tasks
GOAL_PAGE_MS, GOAL_STATS_MS = 50.0, 100.0


def setup_django(server: MySQLServer, database: str):
    os.environ.update({
        "DATABASE_URL": server.url(database), "DEBUG": "false", "SECRET_KEY": "benchmark-only-" + "x" * 40,
        "ALLOWED_HOSTS": "testserver,localhost", "SECURE_SSL_REDIRECT": "false", "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "tool_ocr.settings",
        # A fill's INSERT ... SELECT runs for minutes: the app's 30 s read timeout would drop the
        # connection while the server carries on outside the caller's lock.
        "DATABASE_QUERY_TIMEOUT": "3600", "TOOL_OCR_ENV_FILE": "/nonexistent",
    })
    import django

    django.setup()


# --- Filling ------------------------------------------------------------------------------

def _dt(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


class Loader:
    """Rows go to a tab-separated file; ``load`` sorts it by its first column (the primary key, or
    the task id of the files) with GNU sort and LOADs it in slices of ``batch`` rows, so InnoDB
    fills its clustered index in order even though the ids are random UUIDs, as in production."""

    def __init__(self, table: str, columns: list[str], workdir: str, sort: bool = True):
        self.table, self.columns, self.sort = table, columns, sort
        self.path = os.path.join(workdir, f"{table}.tsv")
        self.fh = open(self.path, "w")
        self.count = 0

    def add(self, row: dict):
        self.fh.write("\t".join(r"\N" if row[c] is None else _field(row[c]) for c in self.columns) + "\n")
        self.count += 1

    def load(self, connection, batch: int = 250_000) -> int:
        self.fh.close()
        ordered = self.path + ".sorted"
        if self.sort:
            subprocess.run(["sort", "-t", "\t", "-k1,1", "-S", "512M", "-o", ordered, self.path], check=True,
                           env={**os.environ, "LC_ALL": "C"})
            os.unlink(self.path)
        else:
            os.rename(self.path, ordered)
        if connection.__class__.__module__.startswith("sqlite3"):
            return self._load_sqlite(connection, ordered, batch)
        loaded = 0
        with open(ordered) as source:
            while True:
                lines = list(itertools.islice(source, batch))
                if not lines:
                    break
                part = f"{ordered}.part"
                with open(part, "w") as fh:
                    fh.writelines(lines)
                with connection.cursor() as cursor:
                    cursor.execute(f"LOAD DATA LOCAL INFILE '{part}' INTO TABLE `{self.table}` "
                                   f"FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' "
                                   f"({', '.join(f'`{c}`' for c in self.columns)})")
                connection.commit()
                os.unlink(part)
                loaded += len(lines)
                print(f"  {self.table}: {loaded:,} rows loaded", flush=True)
        os.unlink(ordered)
        return loaded

    def _load_sqlite(self, connection, ordered: str, batch: int) -> int:
        """The same rows into SQLite: executemany in transactions of ``batch`` rows (FTS5 fills by trigger)."""
        names = ", ".join(f'"{c}"' for c in self.columns)
        marks = ", ".join("?" for _ in self.columns)
        sql = f'INSERT INTO "{self.table}" ({names}) VALUES ({marks})'
        loaded = 0
        with open(ordered) as source:
            while True:
                lines = list(itertools.islice(source, batch))
                if not lines:
                    break
                connection.executemany(sql, (tuple(None if v == r"\N" else _unfield(v)
                                                   for v in line.rstrip("\n").split("\t")) for line in lines))
                connection.commit()
                loaded += len(lines)
                print(f"  {self.table}: {loaded:,} rows loaded", flush=True)
        os.unlink(ordered)
        return loaded


def _field(value) -> str:
    """A value for LOAD DATA's default format: backslash, tab and newline escaped."""
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _unfield(value: str) -> str:
    if "\\" not in value:
        return value
    return value.replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")


def _raw_connection(server: MySQLServer, database: str):
    import MySQLdb

    kwargs = {"user": server.user, "db": database, "charset": "utf8mb4", "local_infile": 1}
    if server.password:
        kwargs["passwd"] = server.password
    if server.host not in ("localhost", ""):
        kwargs.update(host=server.host, port=server.port)
    return MySQLdb.connect(**kwargs)


def _user_sizes(rng, users: int, total: int, heavy: int) -> list[int]:
    weights = [rng.uniform(0.5, 1.5) for _ in range(users - 1)]
    rest = total - heavy
    sizes = [int(rest * w / sum(weights)) for w in weights]
    sizes[0] += rest - sum(sizes)
    return [heavy] + sizes


def fill(server: MySQLServer | None, database: str, users: int, total: int, heavy: int, seed: int = 1):
    """server None: the SQLite database of settings (``--sqlite``)."""
    from accounts.models import User
    from tasks.history import search
    from tasks.models import Task, TaskFile, TaskText

    from search_text import PageWriter

    rng = random.Random(seed)
    started = time.perf_counter()
    User.objects.bulk_create([User(email=f"bench{i:04d}@example.com", display_name=f"Bench User {i}",
                                   password="!unusable") for i in range(users)], batch_size=1000)
    user_ids = list(User.objects.order_by("email").values_list("id", flat=True))
    task_columns = [f.column for f in Task._meta.concrete_fields]
    file_columns = ["task_id"] + [f.column for f in TaskFile._meta.concrete_fields if f.column not in ("id", "task_id")]
    workdir = tempfile.mkdtemp(prefix="history_scale_")
    tasks = Loader(Task._meta.db_table, task_columns, workdir)
    files = Loader(TaskFile._meta.db_table, file_columns, workdir)
    texts = Loader(TaskText._meta.db_table, ["id", "task_id", "user_id", "text", "terms"], workdir, sort=False)
    page_writer = PageWriter(seed)
    page_pool = []
    now = datetime.now(dt_timezone.utc).replace(tzinfo=None)
    counter = 0
    for user_id, size in zip(user_ids, _user_sizes(rng, users, total, heavy)):
        created = sorted(now - timedelta(seconds=rng.uniform(0, DAYS * 86400)) for _ in range(size))
        for position, created_at in enumerate(created):
            counter += 1
            task_id = uuid.uuid4().hex  # random, as in production: one user's rows spread over the table
            newest = size - position
            roll = rng.random()
            status = ("processing" if newest == 1 else "pending" if newest <= 3 else
                      "completed" if roll < 0.86 else "failed" if roll < 0.95 else "cancelled")
            pages = 1 if rng.random() < 0.7 else rng.randint(2, 10) if rng.random() < 0.85 else rng.randint(11, 50)
            ext, mime = EXTS[rng.randrange(len(EXTS))] if pages > 1 else EXTS[rng.randrange(2)]
            name = f"{WORDS[rng.randrange(len(WORDS))]}-{created_at:%Y%m%d}-{rng.randrange(100000):05d}.{ext}"
            size_bytes = rng.randint(40_000, 4_000_000) * (1 if pages == 1 else min(pages, 10))
            seconds = round(pages * rng.lognormvariate(1.0, 0.5), 3) if status in ("completed", "failed") else None
            started_at = created_at + timedelta(seconds=rng.uniform(0.2, 20)) if status != "pending" else None
            if status == "cancelled":
                started_at = None
            finished_at = (started_at + timedelta(seconds=seconds) if seconds is not None else
                           created_at + timedelta(seconds=30) if status == "cancelled" else None)
            row = {
                "id": task_id, "user_id": user_id, "filename": name, "status": status,
                "engine": "tesseract" if rng.random() < 0.2 else "easyocr", "language": "en", "mime_type": mime,
                "size_bytes": size_bytes, "sha256": uuid.uuid4().hex * 2, "page_count": pages,
                "pages_done": pages if status == "completed" else (rng.randrange(pages) if status == "processing" else 0),
                "created_at": _dt(created_at), "started_at": _dt(started_at) if started_at else None,
                "completed_at": _dt(finished_at) if finished_at else None,
                "heartbeat_at": _dt(now) if status == "processing" else None,
                "processing_seconds": seconds, "retry_count": 1 if rng.random() < 0.03 else 0, "requeue_count": 0,
                "error_code": "ocr_failed" if status == "failed" else "cancelled" if status == "cancelled" else "",
                "error_message": ("The engine could not read this page." if status == "failed" else
                                  "Cancelled by the user." if status == "cancelled" else ""),
                "queue_result_id": uuid.uuid4().hex, "worker_id": "bench" if status != "pending" else "",
            }
            tasks.add({c: row.get(c, 0) for c in task_columns})
            if status == "completed":
                # A pool of PAGE_POOL distinct pages, dealt out in turn: every user's pages differ (the
                # heavy user, filled first, has only pages of its own), and the terms are cut once per page.
                if len(page_pool) < PAGE_POOL:
                    text = page_writer.page()
                    page_pool.append((text, search.terms_for(0, text)))
                text, untagged = page_pool[texts.count % PAGE_POOL]
                texts.add({"id": texts.count + 1, "task_id": task_id, "user_id": user_id, "text": text,
                           "terms": untagged.replace(search.user_tag(0), search.user_tag(user_id))})
            folder = f"{user_id}/{task_id}"
            results = [("original", f"original.{ext}", mime, size_bytes, name)]
            if status == "completed":
                stem = name.rsplit(".", 1)[0]
                results += [("result_txt", "result.txt", "text/plain", pages * rng.randint(800, 4000), f"{stem}.txt"),
                            ("result_json", "result.json", "application/json", pages * rng.randint(8000, 40000),
                             f"{stem}.json"),
                            ("result_pdf", "result.pdf", "application/pdf", int(size_bytes * 1.1), f"{stem}.pdf")]
            for kind, storage_name, file_mime, file_size, download_name in results:
                files.add({c: 0 for c in file_columns} | {"task_id": task_id, "kind": kind, "file": f"{folder}/{storage_name}",
                           "name": download_name, "mime_type": file_mime, "size_bytes": file_size,
                           "sha256": "", "created_at": _dt(finished_at or created_at)})
        if counter % 100_000 < size:
            print(f"  {counter:>9,} tasks generated ({time.perf_counter() - started:.0f} s)", flush=True)
    print(f"generated in {time.perf_counter() - started:.0f} s; sorting and loading", flush=True)
    from django.db import connection as django_connection

    if server is None:
        import sqlite3

        connection = sqlite3.connect(django_connection.settings_dict["NAME"])
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")
    else:
        connection = _raw_connection(server, database)
        with connection.cursor() as cursor:
            cursor.execute("SET unique_checks=0, foreign_key_checks=0")
    loaded_tasks = tasks.load(connection)
    loaded_files = files.load(connection)
    with text_index_after_load():
        loaded_texts = texts.load(connection)
    os.rmdir(workdir)
    connection.close()
    from tasks.models import TaskStorage
    from tests.tasks.history_helpers import task_storage_rebuild

    print(f"  {TaskStorage._meta.db_table}: {task_storage_rebuild():,} rows derived from the files", flush=True)
    if server is None:
        with django_connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(f"filled {loaded_tasks:,} tasks, {loaded_files:,} files and {loaded_texts:,} texts over {users:,} "
              f"users in {time.perf_counter() - started:.0f} s", flush=True)
        return
    with django_connection.cursor() as cursor:
        # Rebuilt in one go the rows arrive in task-id order; in production they arrive in creation
        # order (one per upload), which packs the (user, created_at) index: rebuild it that way.
        cursor.execute(f"OPTIMIZE TABLE `{TaskStorage._meta.db_table}`")
        cursor.fetchall()
        cursor.execute(f"ANALYZE TABLE `{Task._meta.db_table}`, `{TaskFile._meta.db_table}`, "
                       f"`{TaskStorage._meta.db_table}`")
        cursor.fetchall()
        cursor.execute(f"ANALYZE TABLE `{TaskText._meta.db_table}`")
        cursor.fetchall()
    print(f"filled {loaded_tasks:,} tasks, {loaded_files:,} files and {loaded_texts:,} texts over {users:,} users "
          f"in {time.perf_counter() - started:.0f} s", flush=True)


def fill_sql(users: int, total: int, heavy: int, seed: int = 1, steps=("tasks", "files", "texts")):
    """The same kind of history built by the database itself (INSERT ... SELECT over a number series):
    minutes instead of an hour of Python on a busy machine. MariaDB or SQLite, whichever is configured.

    Tasks: the heavy user's ``heavy``, the rest spread evenly over the other users, created over
    DAYS days, 86 % completed, 9 % failed, 5 % cancelled, one page each; files: the original, and
    txt/json/pdf for completed tasks; texts: PAGE_POOL distinct pages (search_text.py) dealt out in
    turn, the heavy user's first, so no user has one page twice.
    """
    from django.db import connection

    from accounts.models import User
    from tasks.models import TaskStorage
    from tasks.history import search
    from tasks.models import Task, TaskFile, TaskText

    from search_text import PageWriter

    started = time.perf_counter()
    mysql = connection.vendor == "mysql"
    q = connection.ops.quote_name
    if "tasks" in steps:
        User.objects.bulk_create([User(email=f"bench{i:04d}@example.com", display_name=f"Bench User {i}",
                                       password="!unusable") for i in range(users)], batch_size=1000)
    ids = list(User.objects.filter(email__startswith="bench").order_by("email").values_list("id", flat=True))
    if ids != list(range(ids[0], ids[0] + users)):
        raise SystemExit("the benchmark users need consecutive ids: fill an empty database")
    first, tasks_t, files_t, texts_t = ids[0], q(Task._meta.db_table), q(TaskFile._meta.db_table), q(TaskText._meta.db_table)
    words = ", ".join(f"'{w}'" for w in WORDS)
    if mysql:
        series = f"(SELECT seq AS n FROM seq_1_to_{total})"
        rand = "RAND(n * 7 + {k})"
        task_id = "MD5(CONCAT('t', n, '-', {seed}))".format(seed=seed)
        created = f"UTC_TIMESTAMP(6) - INTERVAL FLOOR(RAND(n) * {DAYS * 86400}) SECOND"
        later = "{col} + INTERVAL {s} SECOND"
        name = (f"CONCAT(ELT(1 + n % {len(WORDS)}, {words}), '-', DATE_FORMAT(created_at, '%Y%m%d'), '-', "
                f"LPAD(n % 100000, 5, '0'), '.png')")
        stem = "SUBSTRING_INDEX(t.filename, '.', 1)"
        path = "CONCAT(t.user_id, '/', t.id, '/', {leaf})"
        concat = "CONCAT({a}, {b})"
    else:
        series = f"(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {total}) SELECT n FROM s)"
        rand = "((abs(random()) % 1000000) / 1000000.0)"
        task_id = "lower(hex(randomblob(16)))"
        created = f"strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (abs(random()) % {DAYS * 86400}) || ' seconds')"
        later = "strftime('%Y-%m-%d %H:%M:%f', {col}, '+{s} seconds')"
        name = (f"(CASE n % {len(WORDS)} " + " ".join(f"WHEN {i} THEN '{w}'" for i, w in enumerate(WORDS)) +
                " END) || '-' || strftime('%Y%m%d', created_at) || '-' || substr('00000' || (n % 100000), -5) || '.png'")
        stem = "substr(t.filename, 1, length(t.filename) - 4)"
        path = "t.user_id || '/' || t.id || '/' || {leaf}"
        concat = "({a} || {b})"

    if mysql:
        with connection.cursor() as cursor:
            # Sorts and derived tables in memory: the server's temporary files live in its tmpdir (/tmp
            # here), which other work on a shared machine may clean up under a running fill.
            cursor.execute("SET SESSION tmp_table_size = 2147483648, max_heap_table_size = 2147483648, "
                           "sort_buffer_size = 268435456")

    def run(label, sql):
        step = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(sql)  # no parameters: the % in the SQL is SQL
        print(f"  {label} ({time.perf_counter() - step:.0f} s)", flush=True)

    r1, r2 = rand.format(k=1), rand.format(k=2)
    if "tasks" in steps:
        run(f"{total:,} tasks", f"""
        INSERT INTO {tasks_t} (id, user_id, filename, status, engine, language, mime_type, size_bytes, sha256,
            page_count, pages_done, created_at, started_at, completed_at, heartbeat_at, processing_seconds,
            retry_count, requeue_count, error_code, error_message, queue_result_id, worker_id)
        SELECT id, user_id, {name}, status, CASE WHEN r2 < 0.2 THEN 'tesseract' ELSE 'easyocr' END, 'en',
            'image/png', 40000 + CAST(r2 * 4000000 AS INTEGER), '', 1, CASE WHEN status = 'completed' THEN 1 ELSE 0 END,
            created_at, CASE WHEN status = 'cancelled' THEN NULL ELSE {later.format(col="created_at", s=5)} END,
            {later.format(col="created_at", s=12)}, NULL,
            CASE WHEN status = 'cancelled' THEN NULL ELSE ROUND(1 + r2 * 6, 3) END, 0, 0,
            CASE status WHEN 'failed' THEN 'ocr_failed' WHEN 'cancelled' THEN 'cancelled' ELSE '' END,
            CASE status WHEN 'failed' THEN 'The engine could not read this page.'
                        WHEN 'cancelled' THEN 'Cancelled by the user.' ELSE '' END, '', 'bench'
        FROM (SELECT n, {task_id} AS id,
                     CASE WHEN n <= {heavy} THEN {first} ELSE {first + 1} + (n - {heavy} - 1) % {users - 1} END AS user_id,
                     {created} AS created_at,
                     CASE WHEN {r1} < 0.86 THEN 'completed' WHEN {r1} < 0.95 THEN 'failed' ELSE 'cancelled' END AS status,
                     {r2} AS r2
              FROM {series} AS numbers) AS s
        ORDER BY id""".replace("CAST(r2 * 4000000 AS INTEGER)", "FLOOR(r2 * 4000000)" if mysql else "CAST(r2 * 4000000 AS INTEGER)"))
    if "files" in steps:
        _fill_files_sql(run, tasks_t, files_t, path, concat, stem)
    if "texts" in steps:
        _fill_texts_sql(run, seed, mysql, q, tasks_t, texts_t)
    if mysql:
        for table in (tasks_t, files_t, texts_t, q(TaskStorage._meta.db_table)):
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE TABLE {table}")
                cursor.fetchall()
    else:
        run("ANALYZE", "ANALYZE")
    print(f"filled {Task.objects.count():,} tasks, {TaskFile.objects.count():,} files and "
          f"{TaskText.objects.count():,} texts over {users:,} users in {time.perf_counter() - started:.0f} s", flush=True)


class text_index_after_load:
    """Texts loaded with the text index's triggers off, its rows made afterwards by text_index.backfill
    (one owner at a time, sorted as the key): row by row, the triggers would insert ~170 rows a text
    in text order, scattered over the whole index."""

    def __enter__(self):
        from django.db import connection

        from tasks.history import text_index

        with connection.cursor() as cursor:
            for sql in text_index.drop_trigger_sql(connection.vendor, _prefix()):
                cursor.execute(sql)

    def __exit__(self, *exc):
        from django.db import connection

        from tasks.history import text_index
        from tasks.models import Task, TaskTerm, TaskText

        if exc[0] is not None:
            return False
        q = connection.ops.quote_name
        texts_t, tasks_t, terms_t = q(TaskText._meta.db_table), q(Task._meta.db_table), q(TaskTerm._meta.db_table)
        started = time.perf_counter()
        shown = [started]

        def progress(n):
            if time.perf_counter() - shown[0] > 60:
                shown[0] = time.perf_counter()
                print(f"    task_terms: {n:,} texts ({shown[0] - started:.0f} s)", flush=True)

        with connection.cursor() as cursor:
            if connection.vendor == "mysql":
                cursor.execute("SET SESSION unique_checks = 0")
            total = text_index.backfill(cursor, connection.vendor, texts_t, tasks_t, terms_t, batch=20_000,
                                        progress=progress)
            for sql in text_index.trigger_sql(connection.vendor, texts_t, tasks_t, terms_t, _prefix()):
                cursor.execute(sql)
            cursor.execute(f"SELECT COUNT(*) FROM {terms_t}")
            rows = cursor.fetchone()[0]
        print(f"  text index: {rows:,} rows for {total:,} texts ({time.perf_counter() - started:.0f} s)", flush=True)
        return False


def _prefix() -> str:
    from tasks.models import Task

    table = Task._meta.db_table
    return table[: -len("tasks")] if table.endswith("tasks") else ""


def _fill_files_sql(run, tasks_t, files_t, path, concat, stem):
    from tests.tasks.history_helpers import task_storage_rebuild

    run("originals", f"""
        INSERT INTO {files_t} (task_id, kind, file, name, mime_type, size_bytes, sha256, created_at)
        SELECT t.id, 'original', {path.format(leaf="'original.png'")}, t.filename, 'image/png', t.size_bytes, '',
               t.created_at
        FROM {tasks_t} t ORDER BY t.id""")
    kinds = [("result_txt", "result.txt", ".txt", "text/plain", 2000), ("result_json", "result.json", ".json",
             "application/json", 20000), ("result_pdf", "result.pdf", ".pdf", "application/pdf", 300000)]
    for kind, leaf, ext, mime, size in kinds:
        run(f"{kind} files", f"""
            INSERT INTO {files_t} (task_id, kind, file, name, mime_type, size_bytes, sha256, created_at)
            SELECT t.id, '{kind}', {path.format(leaf=f"'{leaf}'")}, {concat.format(a=stem, b=f"'{ext}'")},
                   '{mime}', {size}, '', t.completed_at
            FROM {tasks_t} t WHERE t.status = 'completed' ORDER BY t.id""")
    print(f"  task_storage: {task_storage_rebuild():,} rows derived from the files", flush=True)


def _fill_texts_sql(run, seed, mysql, q, tasks_t, texts_t):
    from django.db import connection

    from tasks.history import search

    from search_text import PageWriter

    step = time.perf_counter()
    writer = PageWriter(seed)
    pool = [(i + 1, text, search.terms_for(0, text)) for i, text in
            enumerate(writer.page() for _ in range(PAGE_POOL))]
    print(f"  {PAGE_POOL:,} distinct pages written ({time.perf_counter() - step:.0f} s)", flush=True)
    pool_t = q("bench_page_pool")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {pool_t}")
        cursor.execute(f"CREATE TABLE {pool_t} (id INTEGER PRIMARY KEY, text TEXT NOT NULL, terms TEXT NOT NULL)"
                       + (" CHARACTER SET utf8mb4" if mysql else ""))
        for start in range(0, len(pool), 2000):
            cursor.executemany(f"INSERT INTO {pool_t} (id, text, terms) VALUES (%s, %s, %s)", pool[start:start + 2000])
    tag = "CONCAT('u', LPAD(t.user_id, 10, '0'))" if mysql else "('u' || substr('0000000000' || t.user_id, -10))"
    with text_index_after_load():
        run("texts of the completed tasks", f"""
            INSERT INTO {texts_t} (task_id, user_id, text, terms)
            SELECT t.id, t.user_id, p.text, REPLACE(p.terms, '{search.user_tag(0)}', {tag})
            FROM (SELECT id, user_id, ROW_NUMBER() OVER (ORDER BY user_id, created_at) AS rn
                  FROM {tasks_t} WHERE status = 'completed') AS t
            JOIN {pool_t} p ON p.id = 1 + (t.rn - 1) % {PAGE_POOL}""")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {pool_t}")


# --- Measuring ----------------------------------------------------------------------------

def percentile(values, pct):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def signed_in_client(user):
    from django.test import Client

    from accounts.models import TokenSession

    client = Client()
    client.force_login(user, backend="accounts.backends.ExternalAuthBackend")
    TokenSession.objects.get_or_create(user=user, session_key=client.session.session_key)
    return client


def _consume(response) -> int:
    if response.streaming:
        return sum(len(chunk) for chunk in response.streaming_content)
    return len(response.content)


def time_requests(client, method, url, repeat, data=None, headers=None, warmup=2):
    """[ms per request] of ``repeat`` requests after ``warmup`` ones; the body is read completely each time."""
    call = getattr(client, method)
    timings = []
    for i in range(repeat + warmup):
        start = time.perf_counter()
        response = call(url, data=data, headers=headers or {}) if data is not None else call(url, headers=headers or {})
        size = _consume(response)
        elapsed = (time.perf_counter() - start) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{method.upper()} {url} answered {response.status_code}: {response.content[:300]!r}")
        if i >= warmup:
            timings.append(elapsed)
    return timings, size


def explain(client, method, url, data=None, headers=None) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        call = getattr(client, method)
        response = call(url, data=data, headers=headers or {}) if data is not None else call(url, headers=headers or {})
        _consume(response)
    lines = []
    for query in captured.captured_queries:
        sql = query["sql"]
        if not sql.lstrip().upper().startswith("SELECT") or not any(t in sql for t in (
                "_tasks", "task_files", "task_storage", "task_summary", "task_hour_summary", "user_storage",
                "task_texts", "task_terms")):
            continue
        lines.append(f"    {query['time']}s  {sql[:400]}{' …' if len(sql) > 400 else ''}")
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql)
            names = [c[0] for c in cursor.description]
            for row in cursor.fetchall():
                r = dict(zip(names, row))
                lines.append(f"      -> {r.get('table')}: type={r.get('type')} key={r.get('key')} "
                             f"rows={r.get('rows')} extra={r.get('Extra')}")
    return lines


def measure(repeat: int, show_plans: bool):
    from django.db.models import Count
    from django.utils import timezone

    from accounts.models import User
    from tasks.models import Task

    heavy = User.objects.get(email="bench0000@example.com")
    typical = User.objects.filter(email__startswith="bench").order_by("email")[User.objects.count() // 2]
    counts = dict(Task.objects.filter(user__in=[heavy, typical]).values_list("user").annotate(n=Count("pk")))
    print(f"\nheavy user: {counts[heavy.pk]:,} tasks; typical user: {counts[typical.pk]:,} tasks; "
          f"{repeat} timed requests per case (after 2 warm-up); load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs\n")
    today = timezone.localdate()
    week = f"created_from={today - timedelta(days=6)}&created_to={today}"
    # A day range holding ~10,000 of the heavy user's tasks (about 18 days of 555 a day).
    export_range = f"created_from={today - timedelta(days=60)}&created_to={today - timedelta(days=43)}"

    def cases(last_page):
        return [
            ("baseline", "baseline: header badge (smallest signed-in page)", "/nav/badge/"),
            ("page", "history: no filter (page 1)", "/history/"),
            ("page", "history: status=failed", "/history/?status=failed"),
            ("page", "history: status=failed+cancelled", "/history/?status=failed&status=cancelled"),
            ("page", "history: status=pending (2 rows)", "/history/?status=pending"),
            ("page", "history: q=contract (1 name in 16)", "/history/?q=contract"),
            ("page", "history: q=no-such-name (0 rows)", "/history/?q=no-such-name"),
            ("page", "history: last 7 days", f"/history/?{week}"),
            ("page", "history: 7 days + completed + q", f"/history/?{week}&status=completed&q=invoice"),
            ("page", "history: sort filename", "/history/?ordering=filename"),
            ("page", "history: sort -processing_seconds", "/history/?ordering=-processing_seconds"),
            ("page", "history: sort status", "/history/?ordering=status"),
            ("page", "history: page 20", "/history/?page=20"),
            ("page", f"history: last page ({last_page})", f"/history/?page={last_page}"),
            ("page", f"history: last page ({last_page}), sort filename", f"/history/?page={last_page}&ordering=filename"),
            ("page", "history: HTMX partial, page 2", "/history/?page=2"),
            ("api", "API list (exact count): no filter", "/api/v1/tasks"),
            ("api", "API list: status=failed, page 50", "/api/v1/tasks?status=failed&page=50"),
            ("stats", "stats page: all time", "/history/stats/"),
            ("stats", "stats page: last 30 days", f"/history/stats/?created_from={today - timedelta(days=29)}"),
            ("stats", "API stats: all time", "/api/v1/history/stats"),
        ]

    # Every case once per round, rounds repeated: a burst of load from elsewhere on the machine
    # spreads over all cases instead of landing on whichever case ran at that moment.
    runs = []
    for who, user in (("heavy", heavy), ("typical", typical)):
        client = signed_in_client(user)
        for kind, label, url in cases(math.ceil(counts[user.pk] / 25)):
            headers = {"HX-Request": "true"} if "HTMX" in label else None
            time_requests(client, "get", url, 0, headers=headers)  # two warm-up requests
            runs.append({"who": who, "client": client, "kind": kind, "label": label, "url": url,
                         "headers": headers, "timings": []})
    for _round in range(repeat):
        for run in runs:
            timings, _size = time_requests(run["client"], "get", run["url"], 1, headers=run["headers"], warmup=0)
            run["timings"].append(timings[-1])
    results = []
    baseline = {run["who"]: percentile(run["timings"], 50) for run in runs if run["kind"] == "baseline"}
    print("p50 and p95 of the server time; 'x base' = p50 / p50 of the baseline in the same rounds, which")
    print("stays comparable when other work on the machine slows everything down\n")
    for run in runs:
        p50, p95 = percentile(run["timings"], 50), percentile(run["timings"], 95)
        goal = GOAL_STATS_MS if run["kind"] == "stats" else GOAL_PAGE_MS if run["kind"] == "page" else None
        verdict = "" if goal is None else ("ok" if p95 <= goal else f"OVER {goal:.0f}")
        results.append((run["who"], run["label"], p50, p95, verdict))
        print(f"{run['who']:8} {run['label']:48} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  "
              f"{p50 / baseline[run['who']]:5.1f}x base  {verdict}", flush=True)
    print(f"load average after the page timings: {os.getloadavg()[0]:.1f}", flush=True)
    if show_plans:
        print("\nQueries and plans of each case for the heavy user (one request each):")
        for run in runs:
            if run["who"] == "heavy":
                print(f"  {run['label']}")
                print("\n".join(explain(run["client"], "get", run["url"], headers=run["headers"])), flush=True)
    print()
    client = signed_in_client(heavy)
    for label, url, n in (("export csv ~10,000 rows", f"/history/export/?format=csv&{export_range}", 5),
                          ("export json ~10,000 rows", f"/history/export/?format=json&{export_range}", 5),
                          ("export csv all 100,000 rows", "/history/export/?format=csv", 2)):
        timings, size = time_requests(client, "get", url, n)
        tracemalloc.start()
        response = client.get(url)
        rows = -1
        for chunk in response.streaming_content:
            rows += chunk.count(b"\n")
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"heavy    {label:48} p50 {percentile(timings, 50):7.0f} ms  p95 {percentile(timings, 95):7.0f} ms  "
              f"{rows:,} rows, {size / 1e6:.1f} MB, peak Python memory {peak / 1e6:.1f} MB", flush=True)
        if show_plans and "10,000" in label and "csv" in label:
            print("\n".join(explain(client, "get", url)[:8]), flush=True)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    return results


def search_queries(user, per_class: int = 10, seed: int = 7) -> dict[str, list[str]]:
    """Queries a user would type, taken from the user's own pages: {class: [query, ...]}."""
    import re

    from search_text import PageWriter
    from tasks.models import TaskText

    rng = random.Random(seed)
    writer = PageWriter(1)
    rank = {word: i for i, word in enumerate(writer.vocabulary)}
    ids = list(TaskText.objects.filter(user=user).values_list("id", flat=True))
    classes: dict[str, list[str]] = {"word (vocabulary rank 300-3000)": [], "word prefix (first 5 letters)": [],
                                     "name (a surname)": [], "common word (rank < 20)": [],
                                     "Chinese substring, 2 characters": [], "Chinese substring, 3 characters": [],
                                     "no match": ["qzxv", "unfindableword", "zzyzx"]}
    for text_id in rng.sample(ids, min(len(ids), 4000)):
        text = TaskText.objects.values_list("text", flat=True).get(pk=text_id)
        words = re.findall(r"[A-Za-z]+", text)
        if re.search(r"[\u4e00-\u9fff]{3}", text):
            runs = re.findall(r"[\u4e00-\u9fff]{3,}", text)
            run = rng.choice(runs)
            at = rng.randrange(len(run) - 2)
            for n in (2, 3):
                bucket = classes[f"Chinese substring, {n} characters"]
                if len(bucket) < per_class:
                    bucket.append(run[at:at + n])
            continue
        mid = [w for w in words if 300 <= rank.get(w.lower(), -1) < 3000]
        if mid and len(classes["word (vocabulary rank 300-3000)"]) < per_class:
            classes["word (vocabulary rank 300-3000)"].append(rng.choice(mid))
        longer = [w for w in mid if len(w) >= 7]
        if longer and len(classes["word prefix (first 5 letters)"]) < per_class:
            classes["word prefix (first 5 letters)"].append(rng.choice(longer)[:5])
        names = [w for w in words if w in set(writer.surnames)]
        if names and len(classes["name (a surname)"]) < per_class:
            classes["name (a surname)"].append(names[0])
        common = [w.lower() for w in words if 0 <= rank.get(w.lower(), -1) < 20 and len(w) > 2
                  and w.lower() not in classes["common word (rank < 20)"]]
        if common and len(classes["common word (rank < 20)"]) < per_class:
            classes["common word (rank < 20)"].append(rng.choice(common))
        if all(len(v) >= per_class for v in classes.values() if v is not classes["no match"]):
            break
    return classes


def measure_search(repeat: int, show_plans: bool):
    """p50/p95 of the history page and the JSON list searched for each class of query (issue 10)."""
    from urllib.parse import quote

    from django.db.models import Count

    from accounts.models import User
    from tasks.models import Task, TaskText

    if os.environ.get("BENCH_TERM_COUNTS") == "off":  # the exact counts as before task_term_counts (the baseline)
        from tasks.history import text_index

        text_index._counted_sql = lambda user_id, group: None  # both readers of the counts go through it
        print("task_term_counts ignored (BENCH_TERM_COUNTS=off): counts over the index rows, as before")
    heavy = User.objects.get(email="bench0000@example.com")
    texts = TaskText.objects.filter(user=heavy).count()
    print(f"\nsearch: heavy user {Task.objects.filter(user=heavy).count():,} tasks, {texts:,} with text; "
          f"all users {TaskText.objects.count():,} texts; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    classes = search_queries(heavy)
    wanted = os.environ.get("BENCH_SEARCH_KINDS")  # e.g. "Chinese,name": only the kinds whose label has one of these
    if wanted:
        classes = {k: v for k, v in classes.items() if any(w.strip() in k for w in wanted.split(","))}
    client = signed_in_client(heavy)
    baseline, _ = time_requests(client, "get", "/nav/badge/", repeat)
    base = percentile(baseline, 50)
    rounds = max(1, repeat // 10)
    print(f"{rounds} round(s) of every query (p50/p95 over all queries of a class x rounds); baseline "
          f"(header badge) p50 {base:.1f} ms\n")
    results = []
    for label, queries in classes.items():
        places = [("history page", "/history/?q={}"), ("API list (exact count)", "/api/v1/tasks?q={}")]
        if label.startswith("common word"):  # a filter the counts table cannot answer: counted over the index rows
            places.append(("API, status=completed", "/api/v1/tasks?status=completed&q={}"))
        for where, url in places:
            timings, hits = [], []
            for _round in range(rounds):
                for q in queries:
                    t, _size = time_requests(client, "get", url.format(quote(q)), 1, warmup=0 if _round else 1)
                    timings.extend(t)
            for q in queries:
                hits.append(client.get(f"/api/v1/tasks?q={quote(q)}&page_size=1").json()["count"])
            p50, p95 = percentile(timings, 50), percentile(timings, 95)
            verdict = "ok" if p95 <= 100 else "OVER 100"
            results.append((label, where, p50, p95, verdict))
            print(f"  {label:36} {where:24} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  {p50 / base:5.1f}x base  "
                  f"{verdict:8} matches {min(hits):,}-{max(hits):,}  e.g. {queries[:3]}", flush=True)
    print("\nbaseline without the index: LIKE '%word%' over the heavy user's texts (one query, no page)")
    from django.db import connection

    table = connection.ops.quote_name(TaskText._meta.db_table)
    for label in ("word (vocabulary rank 300-3000)", "Chinese substring, 2 characters"):
        if label not in classes:
            continue
        timings = []
        for q in classes[label][:3]:
            start = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE user_id = %s AND text LIKE %s", [heavy.pk, f"%{q}%"])
                cursor.fetchone()
            timings.append((time.perf_counter() - start) * 1000)
        print(f"  {label:36} LIKE scan                p50 {percentile(timings, 50):7.1f} ms  (3 queries)", flush=True)
    if show_plans:
        print("\nQueries and plans of one search per class (history page):")
        for label, queries in classes.items():
            print(f"  {label}: q={queries[0]!r}")
            print("\n".join(explain(client, "get", f"/history/?q={quote(queries[0])}")), flush=True)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}", flush=True)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--heavy", type=int, default=100_000, help="tasks of the heaviest user")
    parser.add_argument("--repeat", type=int, default=40, help="timed requests per case")
    parser.add_argument("--database", default=DB_NAME)
    parser.add_argument("--reuse", action="store_true", help="measure the database filled by an earlier run")
    parser.add_argument("--no-plans", action="store_true", help="skip the EXPLAIN output")
    parser.add_argument("--drop", action="store_true", help="drop the scratch database and exit")
    parser.add_argument("--sqlite", help="use this SQLite file instead of MariaDB (filled unless --reuse)")
    parser.add_argument("--search-only", action="store_true", help="measure the search cases only")
    parser.add_argument("--no-search", action="store_true", help="skip the text-search cases (measure_search)")
    parser.add_argument("--fill-only", action="store_true",
                        help="fill (or, with --reuse --fill sql --steps, add parts) and stop: long fills in steps")
    parser.add_argument("--steps", default="tasks,files,texts",
                        help="with --fill sql: which parts to make (e.g. 'texts' adds the texts to filled tasks)")
    parser.add_argument("--fill", choices=("python", "sql"), default="python",
                        help="python: rows made here and LOADed (realistic file types and sizes); sql: made by "
                             "the database with INSERT ... SELECT (much faster on a busy machine)")
    args = parser.parse_args()

    if args.sqlite:
        return main_sqlite(args)
    server = MySQLServer.from_env()
    if not server.available():
        raise SystemExit("No MariaDB/MySQL server reachable as an administrator (set MYSQL_ADMIN_URL).")
    if args.drop:
        server.drop_database(args.database)
        print(f"dropped {args.database}")
        return
    if not args.reuse:
        server.create_database(args.database)
    setup_django(server, args.database)
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT VERSION(), @@innodb_buffer_pool_size")
        version, pool = cursor.fetchone()
    print(f"MariaDB/MySQL {version}, InnoDB buffer pool {int(pool) / 2**20:.0f} MB, database {args.database}")
    if not args.reuse or args.fill == "sql" and args.steps != "tasks,files,texts":
        if args.fill == "sql":
            fill_sql(args.users, args.tasks, args.heavy, steps=args.steps.split(","))
        else:
            fill(server, args.database, args.users, args.tasks, args.heavy)
    if args.fill_only:
        return
    if not args.search_only:
        measure(args.repeat, show_plans=not args.no_plans)
    if not args.no_search:
        measure_search(args.repeat, show_plans=not args.no_plans)


def main_sqlite(args):
    path = Path(args.sqlite).resolve()
    if args.drop:
        path.unlink(missing_ok=True)
        return
    if not args.reuse:
        path.unlink(missing_ok=True)
    os.environ.update({
        "DATABASE_URL": f"sqlite:///{path}", "DEBUG": "false", "SECRET_KEY": "benchmark-only-" + "x" * 40,
        "ALLOWED_HOSTS": "testserver,localhost", "SECURE_SSL_REDIRECT": "false", "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "tool_ocr.settings",
    })
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    import sqlite3

    print(f"SQLite {sqlite3.sqlite_version}, database {path}")
    if not args.reuse or args.fill == "sql" and args.steps != "tasks,files,texts":
        if args.fill == "sql":
            fill_sql(args.users, args.tasks, args.heavy, steps=args.steps.split(","))
        else:
            fill(None, str(path), args.users, args.tasks, args.heavy)
    if args.fill_only:
        return
    if not args.search_only:
        measure(args.repeat, show_plans=False)
    measure_search(args.repeat, show_plans=False)


if __name__ == "__main__":
    main()
