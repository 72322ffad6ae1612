"""Fixtures of the fault suite: one MariaDB of its own per module (restarted by each test if killed)."""

import os

import pytest

from tests.faults.own_mariadb import OwnMariaDB, mariadb_or_skip
from tests.faults.stack import FaultStack


def _fault_suite_enabled() -> bool:
    """The suite runs in CI's MariaDB pass (DATABASE_URL=mysql://...) or when asked (FAULT_SUITE=1)."""
    return os.environ.get("DATABASE_URL", "").startswith("mysql") or os.environ.get("FAULT_SUITE") == "1"


@pytest.fixture(scope="module")
def own_mariadb():
    if not _fault_suite_enabled():
        pytest.skip("the fault suite runs in the MariaDB pass (DATABASE_URL=mysql://...) or with FAULT_SUITE=1")
    mariadb_or_skip()
    db = OwnMariaDB()
    try:
        db.install()
        yield db
    finally:
        db.close()


@pytest.fixture(scope="module")
def migrated_dump(own_mariadb, tmp_path_factory, dev_auth_api):
    """The migrated database once per module, as SQL: each test loads it in a second instead of migrating."""
    first = FaultStack(tmp_path_factory.mktemp("template"), own_mariadb, dev_auth_api.url)
    first.migrate()
    dump = own_mariadb.dump(first.name)
    first.close()
    return dump


@pytest.fixture
def stack(own_mariadb, migrated_dump, tmp_path, dev_auth_api):
    if own_mariadb.proc is None or own_mariadb.proc.poll() is not None:
        own_mariadb.start()
    own_mariadb.thaw()
    s = FaultStack(tmp_path, own_mariadb, dev_auth_api.url)
    own_mariadb.load(s.name, migrated_dump)
    try:
        yield s
    finally:
        own_mariadb.thaw()
        if own_mariadb.proc.poll() is not None:
            own_mariadb.start()
        s.close()
