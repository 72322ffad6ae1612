"""Shared fixtures: the bundled dev auth API over real HTTP, users, a private storage folder."""

import json
import os
import threading
import urllib.error
import urllib.request

import pytest

from accounts.devauth.server import make_server


def mariadb_ci_pass() -> bool:
    """CI's second pass (.ci/run): the suite again on MariaDB, after the SQLite pass ran everything."""
    return bool(os.environ.get("REQUIRE_MARIADB")) and os.environ.get("DATABASE_URL", "").startswith("mysql")


def pytest_collection_modifyitems(config, items):
    """Each test once in CI (.ci/run): the MariaDB pass skips db_independent tests (the SQLite pass ran
    them, and they cannot differ); the SQLite pass skips `mariadb` tests when told a MariaDB pass
    follows (MARIADB_PASS_FOLLOWS=1): they build their own scratch databases whichever the suite's is.

    RUN_DB_INDEPENDENT=1 runs db_independent tests anyway. Which tests may carry it: DEVELOPERS.md.
    """
    _no_suite_database_in_mariadb_tests(items)
    if mariadb_ci_pass() and not os.environ.get("RUN_DB_INDEPENDENT"):
        marker, reason = "db_independent", "db_independent: ran in the SQLite pass; cannot differ on MariaDB"
    elif os.environ.get("MARIADB_PASS_FOLLOWS") and not os.environ.get("DATABASE_URL", "").startswith("mysql"):
        marker, reason = "mariadb", "own scratch MariaDB databases: run in the MariaDB pass that follows"
    else:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if item.get_closest_marker(marker):
            item.add_marker(skip)


SUITE_DATABASE_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback"}


def _no_suite_database_in_mariadb_tests(items) -> None:
    """A `mariadb` test that uses the suite's database would check MariaDB twice and SQLite never (the
    SQLite pass skips it): mark only the tests that make their own scratch databases."""
    wrong = [item.nodeid for item in items if item.get_closest_marker("mariadb")
             and (item.get_closest_marker("django_db") or SUITE_DATABASE_FIXTURES & set(item.fixturenames))]
    if wrong:
        raise pytest.UsageError("marked mariadb (own scratch databases) but using the suite's database: "
                                + ", ".join(wrong))


class DevAuthAPI:
    """A running dev auth API and its switches (see accounts/devauth/server.py)."""

    def __init__(self, server):
        self.server = server
        host, port = server.server_address[:2]
        self.url = f"http://{host}:{port}"

    def configure(self, **switches):
        return self._post("/_dev/config", switches)

    def reset(self):
        return self._post("/_dev/config", {"reset": True})

    def accepts(self, access_token: str) -> bool:
        """Whether the API still takes this access token (its /api/auth/me answers 200)."""
        req = urllib.request.Request(self.url + "/api/auth/me", headers={"Authorization": f"Bearer {access_token}"})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status == 200
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                return False
            raise

    def calls(self, path):
        with urllib.request.urlopen(self.url + "/_dev/stats", timeout=5) as r:
            return json.load(r)["calls"].get(path, 0)

    def _post(self, path, body):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.load(r)


@pytest.fixture(scope="session")
def dev_auth_api():
    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield DevAuthAPI(server)
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _isolated_settings(settings, tmp_path, dev_auth_api):
    """Each test: its own storage folder, the dev auth API with default switches."""
    settings.MEDIA_ROOT = str(tmp_path / "files")
    settings.STORAGES = {**settings.STORAGES,
                         "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                     "OPTIONS": {"location": str(tmp_path / "files")}}}
    settings.EXTERNAL_AUTH_API_URL = dev_auth_api.url
    settings.OCR_PRELOAD_ENGINES = []  # in-process workers do not load engines the test never uses
    dev_auth_api.reset()
    yield


@pytest.fixture
def make_user(db):
    from accounts.models import User

    counter = {"n": 0}

    def factory(email=None, name=None, **extra):
        counter["n"] += 1
        email = email or f"user{counter['n']}@example.com"
        return User.objects.create_user(email=email, display_name=name or f"User {counter['n']}", **extra)

    return factory


@pytest.fixture
def user_a(make_user):
    return make_user("alice@example.com", "Alice Example")


@pytest.fixture
def user_b(make_user):
    return make_user("bob@example.com", "Bob Example")


@pytest.fixture(scope="session")
def browser():
    """One headless Debian Chromium for the session's Playwright tests."""
    from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, chromium_or_skip

    sync_api = chromium_or_skip()
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def moto_s3():
    """moto's S3 server as its own process on 127.0.0.1 (port 0), with credentials checked (tests/s3.py)."""
    from tests.s3 import MotoS3

    server = MotoS3()
    yield server
    server.stop()


class FileStorage:
    """Where this test's task files live, and how to list them, for tests that run on both kinds."""

    def __init__(self, kind, root=None, moto=None, bucket=None):
        self.kind, self.root, self.moto, self.bucket = kind, root, moto, bucket

    def names(self) -> list[str]:
        """Every stored name (probe files of /readyz aside), relative to the storage's root."""
        if self.kind == "s3":
            return [k for k in self.moto.keys(self.bucket) if not k.startswith(".")]
        if not self.root.exists():
            return []
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*")
                      if p.is_file() and not p.name.startswith("."))


@pytest.fixture(params=["local", "s3"])
def file_storage(request, settings, tmp_path):
    """Runs the test twice: task files in a local folder, then in a bucket on the moto S3 server."""
    if request.param == "local":
        yield FileStorage("local", root=tmp_path / "files")
        return
    from tests.s3 import storage_settings

    moto = request.getfixturevalue("moto_s3")
    bucket = moto.new_bucket()
    storage_settings(settings, moto, bucket)
    yield FileStorage("s3", moto=moto, bucket=bucket)
