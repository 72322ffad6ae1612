""".ci/run runs the SQLite and MariaDB passes side by side and fails when either fails, whatever an earlier
run left behind. The real script runs in a copy of the repository's layout whose passes (scripts/run_tests.sh)
and tools (make, mariadb) are stand-ins: each pass's exit code is chosen by the test."""

import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

# db_independent: runs a shell script with stand-in commands; no database is touched.
pytestmark = pytest.mark.db_independent

ROOT = Path(__file__).resolve().parents[2]

PASS = """#!/usr/bin/env bash
# stand-in for scripts/run_tests.sh: which pass this is comes from DATABASE_URL; like the browser tests, it
# leaves a screenshot in its artifacts folder
cd "$(dirname "$0")/.."
shot="${TEST_ARTIFACTS:-test-artifacts}/e2e-1-processing.png"
if [[ "${DATABASE_URL:-}" == mysql://* ]]; then echo "mariadb pass"; echo mariadb >"$shot"; exit "$MARIADB_RC"; fi
echo sqlite >"$shot"; echo "sqlite pass stdin=$(readlink /proc/$$/fd/0)"; exit "$SQLITE_RC"
"""


def _tool(folder: Path, name: str, body: str = "exit 0") -> None:
    path = folder / name
    path.write_text(f"#!/usr/bin/env bash\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def repo(tmp_path):
    (tmp_path / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "run", tmp_path / ".ci" / "run")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "run_tests.sh").write_text(PASS)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("make", "mariadb", "mariadbd"):
        _tool(bin_dir, name)
    return tmp_path


def _ci(repo: Path, sqlite_rc: int, mariadb_rc: int, stdin=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MYSQL_ADMIN_URL", "REQUIRE_MARIADB")}
    env.update(PATH=f"{repo / 'bin'}:{env['PATH']}", SQLITE_RC=str(sqlite_rc), MARIADB_RC=str(mariadb_rc))
    return subprocess.run(["bash", str(repo / ".ci" / "run")], env=env, capture_output=True, text=True, timeout=60,
                          stdin=stdin)


@pytest.mark.parametrize(("sqlite_rc", "mariadb_rc"), [(0, 0), (1, 0), (0, 1), (2, 3)])
def test_ci_fails_when_either_pass_fails(repo, sqlite_rc, mariadb_rc):
    done = _ci(repo, sqlite_rc, mariadb_rc)
    assert (done.returncode == 0) == (sqlite_rc == 0 and mariadb_rc == 0), done.stdout + done.stderr
    assert f"SQLite pass: exit {sqlite_rc}," in done.stdout and f"MariaDB pass: exit {mariadb_rc}," in done.stdout
    assert "sqlite pass" in done.stdout and "mariadb pass" in done.stdout


def test_each_pass_keeps_its_own_screenshots(repo):
    """Both passes run the browser tests that are not db_independent (test_e2e_browser.py) at the same time:
    in one folder, one pass's screenshots would overwrite the other's."""
    stale = repo / "test-artifacts" / "mariadb" / "old.png"
    stale.parent.mkdir(parents=True)
    stale.write_text("an earlier run")
    done = _ci(repo, 0, 0)
    assert done.returncode == 0, done.stdout + done.stderr
    artifacts = repo / "test-artifacts"
    assert (artifacts / "sqlite" / "e2e-1-processing.png").read_text() == "sqlite\n"
    assert (artifacts / "mariadb" / "e2e-1-processing.png").read_text() == "mariadb\n"
    assert not stale.exists()


def test_the_browser_tests_write_where_test_artifacts_says():
    where = subprocess.run([sys.executable, "-c", "from tests.browser_support import ARTIFACTS; print(ARTIFACTS)"],
                           cwd=ROOT, env={**os.environ, "TEST_ARTIFACTS": "test-artifacts/mariadb"},
                           capture_output=True, text=True, check=True).stdout.strip()
    assert where == str(ROOT / "test-artifacts" / "mariadb")


def test_a_failing_sqlite_pass_is_not_hidden_by_an_earlier_runs_result(repo):
    assert _ci(repo, 0, 0).returncode == 0  # leaves its files in test-artifacts/
    done = _ci(repo, 1, 0)
    assert done.returncode != 0, done.stdout + done.stderr
    assert "SQLite pass: exit 1," in done.stdout


def test_the_background_pass_reads_no_terminal(repo, tmp_path):
    """Job control (set -m) keeps the caller's stdin for a background job: from a terminal, a test reading it
    would stop the whole pass (SIGTTIN) and CI would hang. The pass reads /dev/null instead."""
    given = tmp_path / "stdin.txt"
    given.write_text("typed at the terminal\n")
    with given.open() as stdin:
        done = _ci(repo, 0, 0, stdin=stdin)
    assert done.returncode == 0 and "sqlite pass stdin=/dev/null" in done.stdout, done.stdout


def test_a_failure_before_the_mariadb_pass_ends_the_background_pass(repo, tmp_path):
    marker = tmp_path / "sqlite-pass-finished"
    (repo / "scripts" / "run_tests.sh").write_text(f"#!/usr/bin/env bash\nsleep 5\ntouch {marker}\n")
    # the server answers, but the next step fails: .ci/run stops there (set -e)
    _tool(repo / "bin", "mariadb", 'case "$*" in *"SELECT 1"*) exit 0;; esac; exit 1')
    started = time.monotonic()
    done = _ci(repo, 0, 0)
    assert done.returncode != 0 and time.monotonic() - started < 5, done.stdout + done.stderr
    time.sleep(6)
    assert not marker.exists()  # the background pass was ended with .ci/run, not left running
