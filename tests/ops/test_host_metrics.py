"""Metrics across hosts: each worker host's exporter (manage.py serve_metrics) shows its own workers' work.

Two "hosts", each with its own PROMETHEUS_MULTIPROC_DIR, working folder and temporary folder,
run real db_worker processes on one database; each host's exporter, scraped over HTTP like
Prometheus does, reports exactly the tasks that host's worker finished.
"""

import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from tasks import services
from tests.tasks.pipeline_helpers import PAGES, encode
from tests.tasks.worker_processes import ROOT, WorkerDatabase, create_tasks, tasks_state

# db_independent: every test here runs on a SQLite file of its own (WorkerDatabase(mariadb=False)) or on none,
# whatever the suite's database: the MariaDB pass would run the very same thing again.
pytestmark = pytest.mark.db_independent


def _engine() -> str:
    return "tesseract" if "tesseract" in services.engine_names() else "easyocr"


def _pages(tmp_path: Path, count: int) -> list[Path]:
    page = Image.open(PAGES / "libtasn1_p13.png").convert("L")
    paths = []
    for n in range(count):
        path = tmp_path / f"strip{n}.png"
        path.write_bytes(encode(page.crop((0, n * 120, page.width, n * 120 + 200)), "PNG"))
        paths.append(path)
    return paths


def _exporter(db: WorkerDatabase, host: Path, **env) -> tuple[subprocess.Popen, str]:
    log = host / "exporter.log"
    proc = db.start([sys.executable, str(ROOT / "manage.py"), "serve_metrics", "--port", "0"], cwd=host, log=log,
                    PROMETHEUS_MULTIPROC_DIR=host / "prom", **env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"at (http://127\.0\.0\.1:\d+/metrics)", log.read_text())
        if found:
            return proc, found.group(1)
        assert proc.poll() is None, log.read_text()
        time.sleep(0.2)
    raise AssertionError(log.read_text())


def _scrape(url, token=None) -> str:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def _finished(text: str, engine: str) -> float:
    found = re.search(rf'^tool_ocr_tasks_finished_total{{engine="{engine}",status="completed"}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def _run_until_done(db, host: Path, ids, engine):
    worker = db.start_worker("--batch", cwd=host, log=host / "worker.log", PROMETHEUS_MULTIPROC_DIR=host / "prom")
    assert worker.wait(timeout=600) == 0, (host / "worker.log").read_text()[-3000:]
    assert {s["status"] for s in tasks_state(db, ids).values()} == {"completed"}


def test_each_worker_hosts_exporter_reports_its_own_workers(tmp_path):
    db = WorkerDatabase(tmp_path, mariadb=False)
    hosts = [tmp_path / "host1", tmp_path / "host2"]
    for host in hosts:
        (host / "prom").mkdir(parents=True)
    try:
        db.migrate()
        engine = _engine()
        first = create_tasks(db, "alice@example.com", _pages(tmp_path, 2), engine)
        _run_until_done(db, hosts[0], first, engine)
        second = create_tasks(db, "bob@example.com", _pages(tmp_path, 1), engine)
        _run_until_done(db, hosts[1], second, engine)

        exporters = [_exporter(db, host) for host in hosts]
        texts = [_scrape(url) for _proc, url in exporters]
        assert [_finished(t, engine) for t in texts] == [2.0, 1.0]
        for text in texts:
            assert "tool_ocr_pages_processed_total" in text and "tool_ocr_ocr_page_seconds_bucket" in text
            assert "tool_ocr_queue_depth" not in text  # the database gauges stay on the web's /metrics

        # A real Prometheus, configured like deploy/prometheus/prometheus.yml, sees both hosts.
        seen = _prometheus_sees(tmp_path, db, [url for _proc, url in exporters], engine)
        assert seen == {url.split("/")[2]: value for url, value in zip([u for _p, u in exporters], ["2", "1"])}
    finally:
        db.close()


def _prometheus_sees(tmp_path: Path, db: WorkerDatabase, urls: list[str], engine: str) -> dict:
    """{instance: tasks completed} as a real Prometheus server scraping ``urls`` reports it."""
    import json
    import shutil

    import pytest

    if not shutil.which("prometheus"):
        pytest.fail("prometheus is not installed (scripts/system_deps.sh installs it)")
    targets = ", ".join(f'"{url.split("/")[2]}"' for url in urls)
    config = tmp_path / "prometheus.yml"
    config.write_text("global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: tool-ocr-workers\n"
                      f"    static_configs:\n      - targets: [{targets}]\n        labels: {{role: worker}}\n")
    proc = db.start(["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                     "--web.listen-address=127.0.0.1:0"], cwd=tmp_path, log=tmp_path / "prometheus.log")
    port = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and port is None:
        listening = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
        for line in listening.splitlines():
            if f"pid={proc.pid}," in line:
                port = line.split()[3].rsplit(":", 1)[1]
        time.sleep(0.3)
    assert port, (tmp_path / "prometheus.log").read_text()[-2000:]
    query = urllib.request.quote(f'tool_ocr_tasks_finished_total{{engine="{engine}",status="completed"}}')
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/query?query={query}", timeout=5) as r:
                result = json.load(r)["data"]["result"]
        except OSError:
            result = []
        if len(result) == len(urls):
            return {row["metric"]["instance"]: row["value"][1] for row in result}
        time.sleep(0.5)
    raise AssertionError(f"Prometheus did not see every worker host: {result}")


def test_the_deploy_scrape_configuration_is_valid():
    import shutil

    if not shutil.which("promtool"):
        import pytest

        pytest.fail("promtool is not installed (scripts/system_deps.sh installs prometheus)")
    done = subprocess.run(["promtool", "check", "config", "--syntax-only", "deploy/prometheus/prometheus.yml"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    text = (ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text()
    assert "job_name: tool-ocr-workers" in text and ":9101" in text


def test_the_exporter_answers_only_allowed_addresses_or_the_token(tmp_path):
    db = WorkerDatabase(tmp_path, mariadb=False)
    host = tmp_path / "host"
    (host / "prom").mkdir(parents=True)
    try:
        _proc, url = _exporter(db, host, METRICS_ALLOWED_IPS="10.9.9.9", METRICS_TOKEN="s3cret-token-for-scrapes")
        try:
            _scrape(url)
            raise AssertionError("an address not allowed was answered")
        except urllib.error.HTTPError as exc:
            assert exc.code == 403
        request = urllib.request.Request(url, headers={"Authorization": "Bearer s3cret-token-for-scrapes"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain; version=")
    finally:
        db.close()


def test_the_exporter_refuses_to_start_without_the_metrics_folder(tmp_path):
    db = WorkerDatabase(tmp_path, mariadb=False)
    env = db.env()
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    done = subprocess.run([sys.executable, str(ROOT / "manage.py"), "serve_metrics", "--port", "0"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().endswith("PROMETHEUS_MULTIPROC_DIR is not set to an existing folder: set it to the "
                                        "folder the workers of this host write their metrics to "
                                        "(e.g. /run/tool-ocr-metrics).")
