"""Sizing: pages per hour with 1 and 2 worker processes per engine, memory, queue and database load.

    .venv/bin/python benchmarks/workers.py [--engines tesseract,easyocr] [--workers 1,2] [--pages 16]
        [--database-url mysql://user:pass@127.0.0.1:3306/any] [--storage s3|local]

Everything runs as in production, with worker hosts that share no disk: a scratch MariaDB
database (created and dropped here; MYSQL_ADMIN_URL or --database-url says which server), a
bucket on moto's S3 server (--storage s3, the default) and real ``manage.py db_worker``
processes, each with its own TMPDIR and MEDIA_ROOT. Measured:

* **pages/hour** per engine with 1 and 2 workers: N one-page tasks queued, then the workers
  started; the rate runs from the first task's start to the last one's completion (model
  loading excluded; the start-up time is printed apart). Two workers on this 2-core machine
  get OCR_THREADS=1 each (C/N, as deploy/systemd advises); one worker gets all cores.
* **CPU seconds per page** (the workers' own CPU, tesseract child processes included, start-up
  excluded): on a shared machine this is the figure to size with, since pages/hour there is
  the workers' fair share of a busy CPU; 3600 / (CPU s/page) is pages/hour per free core.
* **memory per worker**: peak RSS (VmHWM) of each worker process.
* **database load per worker**: SQL statements per second an idle worker sends (the queue
  poll, every --interval s) and a busy one sends, counted inside the worker
  (benchmarks/_counting_worker.py wraps every connection).
* **queue claim rate**: jobs per second 1 and 2 workers claim and finish when the job itself
  does nothing (process_task for an unknown task id returns at once): the queue's own cost.
* **upload to start of work**: created_at -> started_at of single tasks sent to idle workers.

The machine is shared: the load (the other processes' share of the CPU during each run) is
printed beside each figure. Results also go to benchmarks/results/workers.txt.
"""

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PY = sys.executable
RESULTS = ROOT / "benchmarks" / "results" / "workers.txt"
PAGES = ROOT / "tests" / "data" / "pages"
_out = io.StringIO()


def say(*parts):
    line = " ".join(str(p) for p in parts)
    print(line, flush=True)
    _out.write(line + "\n")


# --- The machine ---------------------------------------------------------------------------------
def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields[:8]) - idle) / tick, sum(fields[:8]) / tick


def proc_cpu(pid) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError):
        return 0.0


def tree(pid) -> list[int]:
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    for child in children:
        pids += tree(int(child))
    return pids


def status_kb(pid, field) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Load:
    """How busy the rest of the machine was while a measurement ran (machine CPU minus our workers')."""

    def __init__(self):
        self.busy0, self.total0 = machine_cpu()

    def text(self, own_seconds: float) -> str:
        busy, total = machine_cpu()
        cores = os.cpu_count() or 1
        wall = (total - self.total0) / cores
        others = max(0.0, (busy - self.busy0) - own_seconds)
        return (f"others used {others / wall if wall else 0:.2f} of {cores} cores, "
                f"loadavg {os.getloadavg()[0]:.1f}")


# --- The installation ------------------------------------------------------------------------------
class Installation:
    """One scratch database, one bucket (or folder), and worker "hosts" with their own folders."""

    def __init__(self, args, scratch: Path):
        from ops.mysql_admin import MySQLServer

        self.scratch = scratch
        if args.database_url:
            os.environ["MYSQL_ADMIN_URL"] = args.database_url
        self.server = MySQLServer.from_env()
        if not self.server.available():
            raise SystemExit("no MariaDB/MySQL server: set MYSQL_ADMIN_URL or --database-url")
        self.database = f"toolocr_bench_i13_{uuid.uuid4().hex[:6]}"
        self.server.create_database(self.database)
        self.moto = None
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_SETTINGS", "AWS_"))}
        self.env.update({"DATABASE_URL": self.server.url(self.database), "DEBUG": "true",
                         "TOOL_OCR_ENV_FILE": str(scratch / "no.env"), "LOG_LEVEL": "WARNING", "MAX_TASKS_PER_USER": "100000",
                         "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "tool_ocr.settings",
                         "MEDIA_ROOT": str(scratch / "web" / "files"), "DATA_DIR": str(scratch / "web" / "data")})
        if args.storage == "s3":
            from tests.s3 import MotoS3

            self.moto = MotoS3()
            self.env.update(self.moto.env(self.moto.new_bucket("bench")))
        self.manage("migrate", "--no-input", "-v0")
        self.tasks_table, self.jobs_table = self.python(
            "from tasks.models import Task\nfrom django_tasks_db.models import DBTaskResult\n"
            "result = [Task._meta.db_table, DBTaskResult._meta.db_table]")

    def manage(self, *args, env=None, timeout=600) -> str:
        done = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env={**self.env, **(env or {})},
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode:
            raise SystemExit(f"manage.py {args[0]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
        return done.stdout

    def python(self, code: str):
        out = self.manage("shell", "--no-imports", "-c",
                          "import json\nresult = None\n" + code + "\nprint('@@' + json.dumps(result, default=str))")
        return json.loads(out.rsplit("@@", 1)[1])

    def sql(self, query: str) -> list[list[str]]:
        out = self.server.execute(query, database=self.database)
        return [line.split("\t") for line in out.splitlines() if line]

    def reset(self):
        self.python("from tasks.models import Task\nfrom django_tasks_db.models import DBTaskResult\n"
                    "Task.objects.all().delete(); DBTaskResult.objects.all().delete()")

    def create_tasks(self, engine: str, count: int) -> list[str]:
        pages = sorted(str(p) for p in PAGES.glob("*.png"))
        return self.python(f"""
from django.core.files import File
from accounts.models import User
from tasks import services
user, _ = User.objects.get_or_create(email="bench@example.com", defaults={{"display_name": "Bench"}})
pages = {pages!r}
result = []
for n in range({count}):
    with open(pages[n % len(pages)], "rb") as fh:
        upload = File(fh, name="page.png")
        result.append(str(services.tasks_create(user=user, uploaded_files=[upload], engine={engine!r}).tasks[0].id))
""")

    def start_workers(self, count: int, tag: str, *, interval: float = 1.0, threads: int = 0, extra=()) -> list:
        workers = []
        for n in range(count):
            host = self.scratch / f"{tag}-host{n}"
            (host / "tmp").mkdir(parents=True, exist_ok=True)
            env = {**self.env, "TMPDIR": str(host / "tmp"), "MEDIA_ROOT": str(host / "files"),
                   "DATA_DIR": str(host / "data"), "OCR_THREADS": str(threads), "OMP_THREAD_LIMIT": "1",
                   "BENCH_QUERY_LOG": str(host / "queries.json")}
            proc = subprocess.Popen([PY, str(ROOT / "benchmarks" / "_counting_worker.py"), "--no-reload",
                                     "--no-startup-delay", "--interval", str(interval), *extra],
                                    cwd=host, env=env, stdout=(host / "worker.log").open("ab"),
                                    stderr=subprocess.STDOUT, start_new_session=True)
            workers.append((proc, host))
        return workers

    @staticmethod
    def queries(host: Path) -> dict:
        try:
            return json.loads((host / "queries.json").read_text())
        except (OSError, ValueError):
            return {"queries": 0, "seconds": 0.0}

    @staticmethod
    def stop(workers):
        for proc, _host in workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc, _host in workers:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)

    def close(self):
        try:
            self.server.drop_database(self.database)
        finally:
            if self.moto:
                self.moto.stop()


# --- Measurements --------------------------------------------------------------------------------------
def wait_done(inst: Installation, count: int, timeout: float, on_tick=None):
    deadline = time.monotonic() + timeout
    table = inst.tasks_table
    while time.monotonic() < deadline:
        rows = inst.sql(f"SELECT status, COUNT(*) FROM {table} GROUP BY status")
        done = sum(int(n) for s, n in rows if s in ("completed", "failed"))
        if on_tick:
            on_tick()
        if done >= count:
            return rows
        time.sleep(0.5)
    raise SystemExit(f"tasks not done after {timeout} s: {rows}")


def throughput(inst: Installation, engine: str, workers_n: int, pages: int, cores: int) -> dict:
    inst.reset()
    inst.create_tasks(engine, pages)
    threads = 0 if workers_n == 1 else max(1, cores // workers_n)
    launched = time.time()
    workers = inst.start_workers(workers_n, f"{engine}-{workers_n}", threads=threads)
    pids = [p.pid for p, _h in workers]
    cpu0 = {pid: proc_cpu(pid) for pid in pids}
    load = Load()
    peak = {pid: 0 for pid in pids}

    at_first_start = {}

    def tick():
        for pid in pids:
            peak[pid] = max(peak[pid], status_kb(pid, "VmHWM"))
        if not at_first_start and inst.sql(f"SELECT 1 FROM {inst.tasks_table} WHERE started_at IS NOT NULL LIMIT 1"):
            at_first_start.update({pid: proc_cpu(pid) for pid in pids})  # start-up (imports, models) ends here

    rows = wait_done(inst, pages, timeout=3600, on_tick=tick)
    own_cpu = sum(proc_cpu(pid) - cpu0[pid] for pid in pids)
    work_cpu = sum(proc_cpu(pid) - at_first_start.get(pid, cpu0[pid]) for pid in pids)
    q_busy = [inst.queries(h) for _p, h in workers]
    span = inst.sql(f"SELECT TIMESTAMPDIFF(MICROSECOND, MIN(started_at), MAX(completed_at)) / 1e6, "
                    f"UNIX_TIMESTAMP(MIN(started_at)) FROM {inst.tasks_table}")[0]
    busy_seconds = float(span[0])
    first_start = float(span[1]) - launched  # worker start-up: model load, imports, first poll
    load_text = load.text(own_cpu)
    # Idle: the same workers, nothing to do, for a few seconds.
    time.sleep(2)
    q_idle0 = [inst.queries(h) for _p, h in workers]
    time.sleep(8)
    q_idle1 = [inst.queries(h) for _p, h in workers]
    idle_qps = sum((b["queries"] - a["queries"]) / max(0.1, b["at"] - a["at"]) for a, b in zip(q_idle0, q_idle1))
    Installation.stop(workers)
    failed = sum(int(n) for s, n in rows if s == "failed")
    busy_queries = sum(q["queries"] for q in q_busy)
    return {"engine": engine, "workers": workers_n, "pages": pages, "failed": failed,
            "pages_per_hour": pages / busy_seconds * 3600 if busy_seconds > 0 else 0.0,
            "seconds": busy_seconds, "start_up": first_start, "cpu_per_page": work_cpu / pages,
            "peak_rss_mb": [round(peak[p] / 1024) for p in pids],
            "busy_qps_per_worker": busy_queries / busy_seconds / workers_n if busy_seconds else 0.0,
            "idle_qps_per_worker": idle_qps / workers_n, "load": load_text}


def claim_rate(inst: Installation, workers_n: int, jobs: int) -> dict:
    inst.reset()
    inst.python(f"""
import uuid
from tasks.jobs import process_task
for _ in range({jobs}):
    process_task.enqueue(str(uuid.uuid4()))
result = True
""")
    workers = inst.start_workers(workers_n, f"claim-{workers_n}", interval=0.1)
    pids = [p.pid for p, _h in workers]
    cpu0 = {pid: proc_cpu(pid) for pid in pids}
    load = Load()
    started = None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        done = int(inst.sql(f"SELECT COUNT(*) FROM {inst.jobs_table} "
                            "WHERE task_path = 'tasks.jobs.process_task' AND status = 'SUCCESSFUL'")[0][0])
        if started is None and done > 0:
            started, first = time.monotonic(), done
        if done >= jobs:
            break
        time.sleep(0.2)
    seconds = time.monotonic() - started
    own = sum(proc_cpu(pid) - cpu0[pid] for pid in pids)
    Installation.stop(workers)
    return {"workers": workers_n, "jobs_per_second": (jobs - first) / seconds if seconds else 0.0,
            "cpu_ms_per_job": own / jobs * 1000, "load": load.text(own)}


def upload_to_start(inst: Installation, tries: int, interval: float) -> dict:
    inst.reset()
    workers = inst.start_workers(1, "latency", interval=interval)
    time.sleep(8)  # the worker is up and polling
    delays = []
    for _ in range(tries):
        [task_id] = inst.create_tasks("tesseract", 1)
        hex_id = task_id.replace("-", "")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            row = inst.sql(f"SELECT TIMESTAMPDIFF(MICROSECOND, created_at, started_at) / 1e6 FROM {inst.tasks_table} "
                           f"WHERE id = '{hex_id}' AND status = 'completed'")
            if row and row[0][0] != "NULL":
                delays.append(float(row[0][0]))
                break
            time.sleep(0.2)
        time.sleep(0.3 + interval * (len(delays) % 3) / 3)  # arrive at different points of the poll cycle
    Installation.stop(workers)
    delays.sort()
    return {"interval": interval, "tries": len(delays), "median": delays[len(delays) // 2], "max": delays[-1]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="tesseract,easyocr")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--pages", type=int, default=16, help="one-page tasks per run (tesseract gets 2x)")
    parser.add_argument("--claim-jobs", type=int, default=300)
    parser.add_argument("--latency-tries", type=int, default=6)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--storage", choices=["s3", "local"], default="s3")
    parser.add_argument("--skip", default="", help="comma-separated: throughput,claim,latency")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    scratch = Path(tempfile.mkdtemp(prefix="tool-ocr-workers-bench-"))
    skip = set(filter(None, args.skip.split(",")))
    inst = Installation(args, scratch)
    say(f"# workers benchmark: {cores} CPU(s), MariaDB scratch database, storage={args.storage} "
        f"({'moto S3 server on loopback' if args.storage == 's3' else 'local folder'}), {time.strftime('%Y-%m-%d %H:%M')}")
    say("# the machine is shared with other developers' jobs: see 'load' beside each figure")
    try:
        if "throughput" not in skip:
            say("\nengine     workers pages  busy s  pages/hour  per worker  CPU s/page  start-up s  peak RSS MB/worker  "
                "SQL/s busy/worker  SQL/s idle/worker  load")
            for engine in args.engines.split(","):
                for n in [int(x) for x in args.workers.split(",")]:
                    pages = args.pages * (2 if engine == "tesseract" else 1)
                    r = throughput(inst, engine, n, pages, cores)
                    say(f"{engine:10} {n:7} {pages:5} {r['seconds']:7.1f} {r['pages_per_hour']:11.0f} "
                        f"{r['pages_per_hour'] / n:11.0f} {r['cpu_per_page']:11.2f} {r['start_up']:11.1f}  "
                        f"{'/'.join(map(str, r['peak_rss_mb'])):>18}  {r['busy_qps_per_worker']:17.1f}  "
                        f"{r['idle_qps_per_worker']:17.2f}  {r['load']}" + (f" FAILED {r['failed']}" if r['failed'] else ""))
        if "claim" not in skip:
            say("\nqueue claim rate (jobs that do nothing: the queue's own cost)")
            for n in (1, 2):
                r = claim_rate(inst, n, args.claim_jobs)
                say(f"  {n} worker(s): {r['jobs_per_second']:.1f} jobs/s, {r['cpu_ms_per_job']:.1f} ms worker CPU "
                    f"per job; {r['load']}")
        if "latency" not in skip:
            say("\nupload to start of work (idle worker, created_at -> started_at)")
            for interval in (1.0, 0.2):
                r = upload_to_start(inst, args.latency_tries, interval)
                say(f"  poll interval {interval:.1f} s: median {r['median']:.2f} s, max {r['max']:.2f} s "
                    f"over {r['tries']} uploads")
    finally:
        inst.close()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(_out.getvalue())
    say(f"\n(written to {RESULTS.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
