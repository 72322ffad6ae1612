"""Small helpers to reach a MariaDB/MySQL server as an administrator (schema script, tests).

The admin URL comes from MYSQL_ADMIN_URL, else DATABASE_URL when it is MySQL, else root
over the local socket (how a fresh Debian MariaDB is set up).
"""

import os
import subprocess
from dataclasses import dataclass
from urllib.parse import unquote, urlparse


@dataclass
class MySQLServer:
    host: str = "localhost"
    port: int = 3306
    user: str = "root"
    password: str = ""

    @classmethod
    def from_env(cls) -> "MySQLServer":
        url = os.environ.get("MYSQL_ADMIN_URL") or ""
        if not url and os.environ.get("DATABASE_URL", "").startswith("mysql"):
            url = os.environ["DATABASE_URL"]
        if not url:
            return cls()
        parsed = urlparse(url)
        return cls(host=parsed.hostname or "localhost", port=parsed.port or 3306,
                   user=unquote(parsed.username or "root"), password=unquote(parsed.password or ""))

    def url(self, database: str) -> str:
        auth = self.user + (f":{self.password}" if self.password else "")
        return f"mysql://{auth}@{self.host}:{self.port}/{database}"

    def _cli_args(self):
        args = [f"--user={self.user}"]
        if self.host not in ("localhost", ""):
            args += [f"--host={self.host}", f"--port={self.port}", "--protocol=TCP"]
        return args

    def _env(self):
        env = dict(os.environ)
        if self.password:
            env["MYSQL_PWD"] = self.password
        return env

    def execute(self, sql: str, database: str = "") -> str:
        cmd = ["mariadb", *self._cli_args(), "--batch", "--skip-column-names"]
        if database:
            cmd.append(database)
        done = subprocess.run(cmd, input=sql, capture_output=True, text=True, env=self._env(), timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"mariadb failed: {done.stderr.strip()}")
        return done.stdout

    def dump_schema(self, database: str) -> str:
        return self._dump(database, "--no-data", "--skip-comments", "--skip-add-drop-table", "--skip-dump-date",
                          "--compact", "--skip-set-charset", "--skip-triggers")

    def dump(self, database: str) -> str:
        """The whole database as SQL (tables, rows, triggers, routines), to load into another with execute()."""
        return self._dump(database, "--skip-comments", "--single-transaction", "--routines")

    def _dump(self, database: str, *options: str) -> str:
        done = subprocess.run(["mariadb-dump", *self._cli_args(), *options, database], capture_output=True,
                              text=True, env=self._env(), timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"mariadb-dump failed: {done.stderr.strip()}")
        return done.stdout

    def available(self) -> bool:
        try:
            self.execute("SELECT 1;")
            return True
        except (RuntimeError, OSError, subprocess.SubprocessError):
            return False

    def create_database(self, name: str) -> None:
        self.execute(f"DROP DATABASE IF EXISTS `{name}`; "
                     f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;")

    def drop_database(self, name: str) -> None:
        self.execute(f"DROP DATABASE IF EXISTS `{name}`;")
