"""The MySQL/MariaDB database must be made as README says: CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci.

A database made with the server's default (``CREATE DATABASE tool_ocr;``: latin1 on older servers,
utf8mb4_general_ci on MariaDB 10.x, others on MySQL 8 and MariaDB 11) is not refused by the server; the
tables migrate then makes take its default, and the app misbehaves quietly: latin1 loses every character
outside Western European text, another collation mixes with the columns that name utf8mb4_unicode_ci and
fails in triggers ("Illegal mix of collations"). So every new connection to a database (until one passed
in this process) reads the database's defaults, and a wrong one raises ConfigError with one line: what was
found and the ALTER DATABASE that fixes it. manage.py prints that line and exits 2 (migrate stops before it
makes a table, a worker before it takes a job); gunicorn stops at start-up (tool_ocr/wsgi.py); /readyz
answers 503 (ops/health.py).
"""

from core.errors import ConfigError

CHARSET = "utf8mb4"
COLLATION = "utf8mb4_unicode_ci"  # README, database_schema.sql (ops/schema.py), settings' TEST options

_passed: set = set()  # (host, port, database) whose defaults were right, in this process


def check_database_defaults(raw_connection, key) -> None:
    """Raise ConfigError when the connection's database has another default character set or collation."""
    if key in _passed:
        return
    with raw_connection.cursor() as cursor:
        cursor.execute("SELECT schema_name, default_character_set_name, default_collation_name "
                       "FROM information_schema.schemata WHERE schema_name = DATABASE()")
        row = cursor.fetchone()
    if row is None:  # no database chosen (the connection that creates the test database)
        return
    problem = defaults_problem(*row)
    if problem:
        raise ConfigError(problem)
    _passed.add(key)


def defaults_problem(name: str, charset: str, collation: str) -> str | None:
    """The one line that says what is wrong with a database's defaults and how to fix it, or None."""
    if charset == CHARSET and collation == COLLATION:
        return None
    quoted = "`" + name.replace("`", "``") + "`"
    loses = " (it cannot store most non-Latin text)" if charset != CHARSET else ""
    return (f"The database {name} has the default character set {charset} with collation {collation}{loses}; "
            f"Tool OCR needs {CHARSET} with {COLLATION} (README). Run: ALTER DATABASE {quoted} CHARACTER SET "
            f"{CHARSET} COLLATE {COLLATION}; then start again (tables made before keep theirs: "
            f"docs/troubleshooting.md, \"Database character set\").")
