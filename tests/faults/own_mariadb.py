"""A MariaDB server of the test's own: its own data folder under /tmp, its own port on 127.0.0.1.

The fault tests kill (SIGKILL), freeze (SIGSTOP) and restart it; the shared server on 3306
is never touched. Started as root with ``--user=mysql`` (the data folder belongs to mysql).
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from ops.mysql_admin import MySQLServer

USER, PASSWORD = "fault", "fault-pw"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mariadb_or_skip():
    if not shutil.which("mariadbd") or not shutil.which("mariadb-install-db"):
        if os.environ.get("REQUIRE_MARIADB"):
            pytest.fail("mariadbd and mariadb-install-db are required for the fault suite")
        pytest.skip("mariadbd is not installed")
    if os.geteuid() != 0:
        pytest.skip("the fault suite starts its own mariadbd as root (--user=mysql)")


class OwnMariaDB:
    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="toolocr-faultdb-", dir="/tmp"))
        self.datadir = self.base / "data"
        self.socket = self.base / "mysqld.sock"
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None
        self.server = MySQLServer(host="127.0.0.1", port=self.port, user=USER, password=PASSWORD)

    def install(self) -> None:
        self.datadir.mkdir()
        shutil.chown(self.base, "mysql", "mysql")
        shutil.chown(self.datadir, "mysql", "mysql")
        done = subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={self.datadir}", "--user=mysql",
                               "--auth-root-authentication-method=socket", "--skip-test-db"],
                              capture_output=True, text=True, timeout=180)
        if done.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed:\n{done.stdout}\n{done.stderr}")
        self.start()
        self.root_sql(f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}';"
                      f"GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'127.0.0.1'; FLUSH PRIVILEGES;")

    def start(self, timeout: float = 60) -> float:
        """Start on the same data folder and port; returns the seconds it took to answer."""
        started = time.monotonic()
        self.proc = subprocess.Popen(
            ["mariadbd", "--no-defaults", f"--datadir={self.datadir}", f"--port={self.port}",
             "--bind-address=127.0.0.1", f"--socket={self.socket}", f"--pid-file={self.base / 'mysqld.pid'}",
             "--user=mysql", "--skip-name-resolve", "--skip-log-bin", "--innodb-buffer-pool-size=32M",
             "--performance-schema=OFF", "--max-connections=200", f"--log-error={self.base / 'error.log'}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mariadbd exited: {self.error_log()[-2000:]}")
            if self._answers():
                return time.monotonic() - started
            time.sleep(0.2)
        raise RuntimeError(f"mariadbd did not answer in {timeout} s: {self.error_log()[-2000:]}")

    def _answers(self) -> bool:
        done = subprocess.run(["mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot", "-e", "SELECT 1"],
                              capture_output=True, timeout=10)
        return done.returncode == 0

    def root_sql(self, sql: str) -> str:
        done = subprocess.run(["mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot", "--batch",
                               "--skip-column-names"], input=sql, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"mariadb failed: {done.stderr}")
        return done.stdout

    def dump(self, database: str) -> str:
        done = subprocess.run(["mariadb-dump", "--no-defaults", f"--socket={self.socket}", "-uroot", "--skip-comments",
                               "--single-transaction", database], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"mariadb-dump failed: {done.stderr}")
        return done.stdout

    def load(self, database: str, sql: str) -> None:
        done = subprocess.run(["mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot", database],
                              input=sql, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"loading the dump failed: {done.stderr}")

    def error_log(self) -> str:
        try:
            return (self.base / "error.log").read_text(errors="replace")
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, connections cut."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(timeout=30)

    def freeze(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def url(self, database: str) -> str:
        return self.server.url(database)

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.base, ignore_errors=True)
