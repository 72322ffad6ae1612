"""Load test: N signed-in users browse their history, open tasks and download results, against gunicorn.

    .venv/bin/python benchmarks/load.py                      # 200 users, 60 s, think time 1-3 s, 3 x 8, SQLite
    .venv/bin/python benchmarks/load.py --layout 3x8 --layout 6x4 --db mariadb --append
    .venv/bin/python benchmarks/load.py --users 50 --duration 20 --think 0 0   # closed loop, no pauses

What it does, all on 127.0.0.1 in a scratch folder (nothing of data/ is touched):
1. migrates a fresh SQLite database (or --database-url), seeds --users people with
   --tasks-per-user completed tasks each (real files in storage) and one signed-in browser
   session per person (the Django session and its TokenSession row, made directly: the
   sign-in itself is measured by benchmarks/auth_latency.py);
   (--db mariadb: a scratch MariaDB database, created and dropped here, on the server of
   MYSQL_ADMIN_URL, else root over the local socket);
2. for each --layout (gunicorn processes x threads) starts gunicorn with deploy/gunicorn.conf.py
   (production settings: DEBUG off, JSON logs, multiprocess metrics; benchmarks/load_settings.py
   adds two do-nothing views for step 4);
3. runs the users concurrently (asyncio + aiohttp) for --duration seconds; each user
   repeats: history page (a random page or filter) 40 %, a task page 35 %, a result
   download 25 %, with a random think time between requests, and keeps its cookies as a
   browser does (the csrftoken the first page sets is sent from then on);
4. then, on the same server, measures the framework's floor: --floor-seconds of back-to-back
   requests to a do-nothing view signed in (session, user, session guard: what every page
   pays) and to one without a session (the middleware alone), each as server CPU per request;
5. prints throughput, p50/p95/p99 per action and overall, errors, the server's CPU per request
   beside the two floors, the CPU of this client and of everything else on the machine, and
   writes the report to benchmarks/results/load.txt (--append adds to it).
Goal: p95 <= 200 ms and no errors with 200 users on the 2-core development machine, and at most
5 ms of server CPU per request for the mix.
"""

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
GOAL_P95_MS = 200
GOAL_CPU_MS = 5
FLOOR_CONCURRENCY = 8


# --- Seeding (runs in a child process with the benchmark's environment) ------------------
def seed(users: int, tasks_per_user: int, out: Path) -> None:
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tool_ocr.settings")
    django.setup()
    from datetime import timedelta

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.files.base import ContentFile
    from django.utils import timezone

    from accounts import crypto
    from accounts.models import TokenSession, User
    from tasks.models import Task, TaskFile

    now = timezone.now()
    people = []
    for n in range(users):
        user = User.objects.create_user(email=f"load{n:04d}@example.com", display_name=f"Load User {n}")
        tasks = []
        for t in range(tasks_per_user):
            created = now - timedelta(hours=t * 7 + n % 5)
            status = "failed" if t % 10 == 9 else "completed"
            tasks.append(Task(user=user, filename=f"scan-{t:03d}.png", status=status, engine="easyocr",
                              mime_type="image/png", size_bytes=2048, page_count=1, pages_done=1,
                              created_at=created, started_at=created, completed_at=created + timedelta(seconds=25),
                              heartbeat_at=created + timedelta(seconds=25), processing_seconds=25.0))
        Task.objects.bulk_create(tasks)
        files, completed = [], []
        for task in tasks:
            original = TaskFile(task=task, kind="original", name=task.filename, mime_type="image/png", size_bytes=2048)
            original.file.save("original.png", ContentFile(b"\x89PNG" + b"\0" * 2044), save=False)
            files.append(original)
            if task.status == "completed":
                text = (f"Result of {task.filename}\n" + "lorem ipsum dolor sit amet " * 40 + "\n").encode()
                result = TaskFile(task=task, kind="result_txt", name=task.filename[:-4] + ".txt",
                                  mime_type="text/plain; charset=utf-8", size_bytes=len(text))
                result.file.save("result.txt", ContentFile(text), save=False)
                files.append(result)
                completed.append(str(task.pk))
        TaskFile.objects.bulk_create(files)
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "accounts.backends.ExternalAuthBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        TokenSession.objects.create(user=user, session_key=store.session_key,
                                    access_token_enc=crypto.encrypt(f"load-access-{n}"), token_type="Bearer",
                                    issued_at=now, expires_at=now + timedelta(hours=8))
        people.append({"session": store.session_key, "tasks": [str(t.pk) for t in tasks], "completed": completed})
    out.write_text(json.dumps({"cookie": settings.SESSION_COOKIE_NAME, "users": people}))


# --- The server ---------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pids, *, reaped: bool = False) -> float:
    """CPU seconds of these processes; reaped: also of their children that ended (a recycled gunicorn worker)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
            if reaped:
                total += (int(fields[13]) + int(fields[14])) / tick  # cutime + cstime: children waited for
        except (OSError, IndexError):
            pass
    return total


def server_cpu_seconds(master: int) -> float:
    """The gunicorn master, its live workers, and the workers it already replaced (their CPU stays counted)."""
    return cpu_seconds([master], reaped=True) + cpu_seconds(process_tree(master)[1:])


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine used so far (from /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def process_tree(pid) -> list[int]:
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    for child in children:
        pids += process_tree(int(child))
    return pids


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not become ready")


# --- The users ---------------------------------------------------------------------
HISTORY_PATH = ["/history/"]
HISTORY_QUERIES = ["", "?page=2", "?status=completed", "?status=failed", "?ordering=filename", "?q=scan-01"]


def keep_cookies(jar: dict, set_cookies) -> None:
    """What a browser does with an answer's Set-Cookie headers, for one site: keep, replace or drop each cookie.

    aiohttp's own jar refuses cookies for an IP address (the server is 127.0.0.1), so without this every page
    would make a new CSRF secret, which a browser's first page does once (Django sets the cookie again on
    every page that shows the token, to renew its expiry, either way).
    """
    from http.cookies import SimpleCookie

    for header in set_cookies:
        parsed = SimpleCookie()
        parsed.load(header)
        for name, morsel in parsed.items():
            if morsel["max-age"] == "0" or not morsel.value:
                jar.pop(name, None)
            else:
                jar[name] = morsel.value


async def user_loop(session, base, person, deadline, think, samples, errors):
    import aiohttp

    jar = {person["cookie"]: person["session"]}  # the browser's cookies: the session, then csrftoken once set
    await asyncio.sleep(random.uniform(0, max(think[1], 0.5)))  # spread the start
    while time.monotonic() < deadline:
        roll = random.random()
        if roll < 0.40:
            action, path = "history", HISTORY_PATH[0] + random.choice(HISTORY_QUERIES)
        elif roll < 0.75:
            action, path = "task page", f"/tasks/{random.choice(person['tasks'])}/"
        else:
            action, path = "download", f"/api/v1/tasks/{random.choice(person['completed'])}/result.txt"
        started = time.perf_counter()
        headers = {"Cookie": "; ".join(f"{name}={value}" for name, value in jar.items())}
        try:
            async with session.get(base + path, headers=headers, allow_redirects=False) as response:
                await response.read()
                keep_cookies(jar, response.headers.getall("Set-Cookie", ()))
                elapsed = (time.perf_counter() - started) * 1000
                if response.status != 200:
                    errors.append(f"{action} {path}: HTTP {response.status}")
                samples.append((action, elapsed, time.monotonic()))
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            errors.append(f"{action} {path}: {type(exc).__name__}")
        if think[1] > 0:
            await asyncio.sleep(random.uniform(*think))


async def run_users(base, people, cookie, duration, think):
    import aiohttp

    samples, errors = [], []
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        deadline = time.monotonic() + duration
        await asyncio.gather(*(user_loop(session, base, {**p, "cookie": cookie}, deadline, think, samples, errors)
                               for p in people))
    return samples, errors


async def hammer(base, path, cookies, seconds, concurrency=FLOOR_CONCURRENCY):
    """Back-to-back GETs of one path from a few connections; (answers, non-200 answers)."""
    import aiohttp

    counts = [0, 0]

    async def one(n):
        headers = {"Cookie": cookies[n % len(cookies)]} if cookies else {}
        while time.monotonic() < deadline:
            async with session.get(base + path, headers=headers, allow_redirects=False) as response:
                await response.read()
                counts[0] += 1
                counts[1] += response.status != 200

    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(one(n) for n in range(concurrency)))
    return counts


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


# --- One layout: a gunicorn, the users, the floors -------------------------------------------
def run_layout(args, env, data, workers, threads, scratch) -> dict:
    port = free_port()
    # No recycling of workers during the run (GUNICORN_MAX_REQUESTS=0): a new worker's imports would land in
    # whichever phase it happened in; in production they are spread over GUNICORN_MAX_REQUESTS requests.
    env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(workers),
           "GUNICORN_THREADS": str(threads), "GUNICORN_MAX_REQUESTS": "0",
           "DJANGO_SETTINGS_MODULE": "benchmarks.load_settings"}
    prom = scratch / f"prom-{workers}x{threads}"
    prom.mkdir()
    env["PROMETHEUS_MULTIPROC_DIR"] = str(prom)
    log = open(scratch / f"server-{workers}x{threads}.log", "w")
    server = subprocess.Popen([str(Path(PY).with_name("gunicorn")), "-c", "deploy/gunicorn.conf.py",
                               "tool_ocr.wsgi"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base)
        cookies = [f"{data['cookie']}={p['session']}" for p in data["users"]]
        probe = urllib.request.Request(base + "/history/", headers={"Cookie": cookies[0]})
        try:
            urllib.request.urlopen(probe, timeout=10)
        except urllib.error.HTTPError:
            raise SystemExit("/history/ did not answer 200 for a signed-in user: nothing to measure")
        # Every thread's first request (imports, connections, templates) is not what a request costs.
        asyncio.run(hammer(base, "/__load__/signed-in", cookies, 2, concurrency=workers * threads))
        print(f"gunicorn {workers}x{threads} on {base}; {args.users} users for {args.duration:.0f} s ...")
        server_before, client_before = server_cpu_seconds(server.pid), time.process_time()
        machine_before = machine_busy_seconds()
        started = time.monotonic()
        samples, errors = asyncio.run(run_users(base, data["users"], data["cookie"], args.duration, args.think))
        wall = time.monotonic() - started
        server_cpu = server_cpu_seconds(server.pid) - server_before
        client_cpu = time.process_time() - client_before
        machine_cpu = machine_busy_seconds() - machine_before
        load = os.getloadavg()
        floors = {}
        for name, path, jar in (("signed-in", "/__load__/signed-in", cookies), ("bare", "/__load__/bare", [])):
            before, m_before, t0 = server_cpu_seconds(server.pid), machine_busy_seconds(), time.monotonic()
            done, bad = asyncio.run(hammer(base, path, jar, args.floor_seconds))
            cpu, m_cpu, w = server_cpu_seconds(server.pid) - before, machine_busy_seconds() - m_before, time.monotonic() - t0
            floors[name] = {"requests": done, "bad": bad, "cpu_ms": 1000 * cpu / max(1, done),
                            "others": max(0.0, m_cpu - cpu) / w / (os.cpu_count() or 1)}
        return {"workers": workers, "threads": threads, "samples": samples, "errors": errors, "wall": wall,
                "server_cpu": server_cpu, "client_cpu": client_cpu, "machine_cpu": machine_cpu, "load": load,
                "floors": floors}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def report(args, r, db_name) -> str:
    samples, errors, wall = r["samples"], r["errors"], r["wall"]
    cores = os.cpu_count() or 1
    cpu_ms = 1000 * r["server_cpu"] / max(1, len(samples))
    lines = [f"Tool OCR load test, {time.strftime('%Y-%m-%d %H:%M:%S')}{'  ' + args.label if args.label else ''}",
             f"{args.users} signed-in users, {args.duration:.0f} s, think time {args.think[0]}-{args.think[1]} s, "
             f"gunicorn {r['workers']} processes x {r['threads']} threads on 127.0.0.1, {cores} CPU cores, "
             f"database {db_name}, each user's cookies kept as a browser keeps them",
             f"requests: {len(samples)}  throughput: {len(samples) / wall:.1f} req/s  errors: {len(errors)}", "",
             f"{'action':<10} {'count':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"]
    groups = {}
    for action, ms, _t in samples:
        groups.setdefault(action, []).append(ms)
    groups["all"] = [ms for _a, ms, _t in samples]
    for action, values in groups.items():
        lines.append(f"{action:<10} {len(values):>7} {percentile(values, 50):>8.1f} {percentile(values, 95):>8.1f} "
                     f"{percentile(values, 99):>8.1f} {max(values) if values else float('nan'):>8.1f}")
    others = max(0.0, r["machine_cpu"] - r["server_cpu"] - r["client_cpu"])
    floor = r["floors"]
    lines += ["",
              f"CPU: server {r['server_cpu']:.1f} s ({100 * r['server_cpu'] / wall / cores:.0f}% of {cores} cores), "
              f"load client {r['client_cpu']:.1f} s ({100 * r['client_cpu'] / wall / cores:.0f}%)",
              f"CPU per request (server): {cpu_ms:.1f} ms for the mix; floor, same server: "
              f"{floor['signed-in']['cpu_ms']:.1f} ms for a do-nothing signed-in view, "
              f"{floor['bare']['cpu_ms']:.1f} ms for a do-nothing view without a session "
              f"({floor['signed-in']['requests']} and {floor['bare']['requests']} requests in "
              f"{args.floor_seconds:.0f} s each, {FLOOR_CONCURRENCY} connections"
              + (f"; {floor['signed-in']['bad'] + floor['bare']['bad']} not 200" if floor['signed-in']['bad'] + floor['bare']['bad'] else "")
              + ")",
              f"CPU of other processes on the machine meanwhile: {others:.1f} s "
              f"({100 * others / wall / cores:.0f}% of {cores} cores; during the floors "
              f"{100 * floor['signed-in']['others']:.0f}% and {100 * floor['bare']['others']:.0f}%); "
              f"load average after the run: {r['load'][0]:.1f} {r['load'][1]:.1f} {r['load'][2]:.1f}"]
    busy = (r["server_cpu"] + r["client_cpu"] + others) / wall / cores
    capacity = cores * 1000 / max(0.1, cpu_ms)
    think = sum(args.think) / 2
    think_rate = args.users / think if think > 0 else None
    p95 = percentile(groups["all"], 95)
    if busy >= 0.9:
        limit = "CPU: the cores were saturated, so requests queued for a core"
    elif think_rate is not None and p95 <= GOAL_P95_MS and len(samples) / wall >= 0.9 * think_rate:
        limit = (f"the users, not the server: {args.users} users at {think:.0f} s think time ask for "
                 f"about {think_rate:.0f} req/s and got {len(samples) / wall:.0f}; the cores had room")
    else:
        limit = (f"not CPU: the cores had room; look at the database ({db_name}"
                 f"{' writes' if db_name == 'SQLite' else ''}) or gunicorn threads")
    lines.append(f"what limits it: {limit} (machine {100 * busy:.0f}% busy; the server alone needs "
                 f"{cpu_ms:.1f} ms CPU per request, about {capacity:.0f} req/s on {cores} idle cores)")
    if think > 0:
        lines.append(f"more users: at {think:.0f} s think time each user asks about {1 / think:.2f} req/s, so "
                     f"{cores} cores at 70 % busy carry about {0.7 * capacity * think:.0f} such users; "
                     "past that, requests queue for a core: more cores or web hosts (on MariaDB; SQLite is one host)")
    verdict = "MET" if p95 <= GOAL_P95_MS and not errors else "NOT MET"
    lines.append(f"goal p95 <= {GOAL_P95_MS} ms with 0 errors: {verdict} (p95 {p95:.1f} ms, {len(errors)} errors)")
    lines.append(f"goal <= {GOAL_CPU_MS} ms server CPU per request: {'MET' if cpu_ms <= GOAL_CPU_MS else 'NOT MET'} "
                 f"({cpu_ms:.1f} ms)")
    if errors:
        lines.append("first errors: " + "; ".join(errors[:5]))
    return "\n".join(lines) + "\n"


def layout(text: str) -> tuple[int, int]:
    try:
        workers, threads = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError("use PROCESSESxTHREADS, e.g. 3x8") from None
    return workers, threads


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--think", type=float, nargs=2, default=[1.0, 3.0], metavar=("MIN", "MAX"))
    parser.add_argument("--tasks-per-user", type=int, default=30)
    parser.add_argument("--layout", type=layout, action="append", metavar="PxT",
                        help="gunicorn processes x threads, e.g. 3x8 (default); repeat for several runs on one seed")
    parser.add_argument("--db", choices=["sqlite", "mariadb"], default="sqlite",
                        help="sqlite: a scratch file (default); mariadb: a scratch database, dropped afterwards")
    parser.add_argument("--database-url", default="", help="an existing database to use instead (it is migrated)")
    parser.add_argument("--floor-seconds", type=float, default=10)
    parser.add_argument("--label", default="", help="a note for the report's first line (before, after, ...)")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "load.txt"))
    parser.add_argument("--append", action="store_true", help="add to --output instead of replacing it")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--seed-only", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed_only:
        return seed(args.users, args.tasks_per_user, Path(args.seed_only))
    layouts = args.layout or [(3, 8)]

    scratch = Path(tempfile.mkdtemp(prefix="tool-ocr-load-"))
    mysql, database, database_url = None, "", args.database_url
    if args.db == "mariadb" and not database_url:
        sys.path.insert(0, str(ROOT))
        from ops.mysql_admin import MySQLServer

        mysql = MySQLServer.from_env()
        if not mysql.available():
            raise SystemExit("no MariaDB/MySQL server reachable as an administrator (set MYSQL_ADMIN_URL)")
        database = f"toolocr_load_{os.getpid()}"
        mysql.create_database(database)
        database_url = mysql.url(database)
    db_name = "SQLite" if not database_url else "MariaDB" if database_url.startswith("mysql") else database_url.split(":")[0]
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": "load-test-" + "x" * 40, "ALLOWED_HOSTS": "127.0.0.1",
           "SECURE_SSL_REDIRECT": "false", "DATA_DIR": str(scratch), "MEDIA_ROOT": str(scratch / "files"),
           "DATABASE_URL": database_url or f"sqlite:///{scratch / 'load.sqlite3'}",
           "EXTERNAL_AUTH_API_URL": "http://127.0.0.1:9", "LOG_LEVEL": "INFO",
           "PROMETHEUS_MULTIPROC_DIR": str(scratch / "prom"), "TOOL_OCR_ENV_FILE": str(scratch / "no.env")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    (scratch / "prom").mkdir()
    try:
        print(f"scratch folder {scratch}; migrating and seeding {args.users} users x {args.tasks_per_user} tasks "
              f"on {db_name} ...")
        subprocess.run([PY, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True)
        seeded = scratch / "people.json"
        subprocess.run([PY, __file__, "--seed-only", str(seeded), "--users", str(args.users),
                        "--tasks-per-user", str(args.tasks_per_user)], cwd=ROOT, env=env, check=True)
        data = json.loads(seeded.read_text())
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        texts = []
        for workers, threads in layouts:
            text = report(args, run_layout(args, env, data, workers, threads, scratch), db_name)
            print(text)
            texts.append(text)
        body = "\n".join(texts)
        if args.append and out.exists():
            body = out.read_text().rstrip("\n") + "\n\n" + body
        out.write_text(body)
        print(f"written to {out}")
    finally:
        if mysql is not None:
            mysql.drop_database(database)
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
