"""The file-name index: every three-character piece of every task's file name (and its last two
characters), for the history's search.

A search for part of a file name (``filename LIKE '%q%'``) reads every index entry of the user:
100,000 for the heaviest user, ~90 ms before the page has even started, and as long again when
nothing matches. ``task_name_grams`` holds one row per (owner, three-character piece of the name,
task): a name contains ``q`` only if it holds every piece of ``q``, so the rarest piece's rows are
the candidates (none at all: no match, known at once), each checked for the other pieces by primary
key lookups and for the whole of ``q`` by one look at its task (the pieces may be apart). The key
is (user_id, gram, created_us DESC, task_key), the order of the history, so a piece's newest tasks
are the first rows of its range, as in tasks/history/search.py's term index.

``gram`` compares like the file name itself in ``LIKE``: utf8mb4_unicode_ci on MariaDB/MySQL (case
and accents ignored), NOCASE on SQLite (ASCII case ignored), so the candidates are exactly what the
LIKE would keep. Triggers on the tasks table write the rows (every writer, raw SQL included); a
name longer than MAX_NAME characters is indexed in its first MAX_NAME.

A search of two characters (台北, a two-character Chinese word, is common) has no piece of its own:
a name holds it exactly when one of its pieces starts with it, or the name ends with it. So every
name also gets its last two characters as a piece (the piece at its last position but one, cut
short by the name's end), and the two characters are looked up as a prefix of the pieces: a range
of the index, in which a task can show up more than once (``NameMatch.prefix``). A two-character
search in many names (``ESTIMATE_CAP``), and a one-character search, keep the LIKE walk of the
names (tasks/selectors.py), which finds a page soon when matches are many.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone as dt_timezone

from django.db import connection

from tasks.history.triggers import created_us_sql, mysql_table_sql, prefix_end, row_triggers, task_id_sql

GRAM = 3
SHORTEST = 2  # the last piece of a name: its last two characters (migration 0024; before it, GRAM)
MAX_NAME = 255  # tasks.filename's max_length: every position of every name
NAMES = ("tasks_name_grams_ai", "tasks_name_grams_au", "tasks_name_grams_ad")
# Rows counted per piece to find the rarest: a piece in more of the user's names than this is common,
# and the caller walks the names instead (``NameMatch.common``); counting further costs as much as the walk.
ESTIMATE_CAP = 1_000
MAX_CHECKED = 4  # pieces besides the driver looked up per candidate (the task's own LIKE checks the rest)

def _positions(shortest: int) -> str:
    """The JSON array of the positions a piece can start at (1-based), up to a piece of ``shortest`` characters."""
    return "[" + ",".join(str(n) for n in range(1, MAX_NAME - shortest + 2)) + "]"


# --- Table and triggers ------------------------------------------------------------------------


def table_sql(vendor: str, table: str, comments: dict[str, str], table_comment: str) -> str:
    """CREATE TABLE for TaskNameGram (tasks.models): the whole row is its clustered primary key."""
    if vendor == "mysql":
        return mysql_table_sql(table, [("user_id", "bigint"),
                                       ("gram", f"varchar({GRAM}) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"),
                                       ("created_us", "bigint"), ("task_key", "binary(16)")],
                               "`user_id`, `gram`, `created_us` DESC, `task_key`", "utf8mb4_unicode_ci", comments,
                               table_comment)
    if vendor == "sqlite":
        return (f'CREATE TABLE "{table}" (user_id integer NOT NULL, gram text NOT NULL COLLATE NOCASE, '
                "created_us integer NOT NULL, task_key text NOT NULL, "
                "PRIMARY KEY (user_id, gram, created_us DESC, task_key)) WITHOUT ROWID")
    raise NotImplementedError(f"no file-name index for {vendor}")


def _key(vendor: str, row: str) -> str:
    return f"UNHEX({row}.id)" if vendor == "mysql" else f"{row}.id"


def trigger_sql(vendor: str, tasks: str, grams: str, prefix: str = "", shortest: int = SHORTEST) -> list[str]:
    """CREATE TRIGGER statements (quoted table names given): task_name_grams follows tasks.filename.

    shortest: the shortest piece, at a name's end (SHORTEST; GRAM as before migration 0024)."""
    names = tuple(f"{prefix}{name}" for name in NAMES)
    watched = ("user_id", "filename", "created_at", "id")
    positions = _positions(shortest)
    if vendor == "mysql":
        def pieces(row):
            return (f"JSON_TABLE('{positions}', '$[*]' COLUMNS (n INT PATH '$')) AS p "
                    f"WHERE p.n <= CHAR_LENGTH({row}.filename) - {shortest - 1}")

        insert = (f"INSERT IGNORE INTO {grams} (user_id, gram, created_us, task_key) "
                  f"SELECT NEW.user_id, SUBSTRING(NEW.filename, p.n, {GRAM}), {created_us_sql(vendor, 'NEW')}, "
                  f"{_key(vendor, 'NEW')} FROM {pieces('NEW')}")
        # The positions first, then one primary-key lookup each (not a scan of the user's rows). The piece
        # in the gram's collation: a database made without README's (utf8mb4_general_ci, the server's
        # default) gives filename another, and comparing the two failed ("Illegal mix of collations").
        delete = (f"DELETE g FROM JSON_TABLE('{positions}', '$[*]' COLUMNS (n INT PATH '$')) AS p "
                  f"STRAIGHT_JOIN {grams} g ON g.user_id = OLD.user_id "
                  f"AND g.gram = CONVERT(SUBSTRING(OLD.filename, p.n, {GRAM}) USING utf8mb4) "
                  "COLLATE utf8mb4_unicode_ci "
                  f"AND g.created_us = {created_us_sql(vendor, 'OLD')} AND g.task_key = {_key(vendor, 'OLD')} "
                  f"WHERE p.n <= CHAR_LENGTH(OLD.filename) - {shortest - 1}")
        return row_triggers(vendor, tasks, names, watched, insert, delete)
    if vendor == "sqlite":
        def pieces(row):
            return f"json_each('{positions}') WHERE value <= length({row}.filename) - {shortest - 1}"

        insert = (f"INSERT OR IGNORE INTO {grams} (user_id, gram, created_us, task_key) "
                  f"SELECT NEW.user_id, substr(NEW.filename, value, {GRAM}), {created_us_sql(vendor, 'NEW')}, "
                  f"{_key(vendor, 'NEW')} FROM {pieces('NEW')}")
        delete = (f"DELETE FROM {grams} WHERE user_id = OLD.user_id "
                  f"AND gram IN (SELECT substr(OLD.filename, value, {GRAM}) FROM {pieces('OLD')}) "
                  f"AND created_us = {created_us_sql(vendor, 'OLD')} AND task_key = {_key(vendor, 'OLD')}")
        return row_triggers(vendor, tasks, names, watched, insert, delete)
    raise NotImplementedError(f"no file-name index triggers for {vendor}")


def drop_trigger_sql(vendor: str, prefix: str = "") -> list[str]:
    quote = "`" if vendor == "mysql" else '"'
    return [f"DROP TRIGGER IF EXISTS {quote}{prefix}{name}{quote}" for name in NAMES]


def rebuild_sql(vendor: str, tasks: str, grams: str) -> list[str]:
    """Every row again from the tasks table (the migration's backfill; a repair after loading with triggers off)."""
    positions = _positions(SHORTEST)
    if vendor == "mysql":
        pieces = (f"JOIN JSON_TABLE('{positions}', '$[*]' COLUMNS (n INT PATH '$')) AS p "
                  f"ON p.n <= CHAR_LENGTH(t.filename) - {SHORTEST - 1}")
        gram = f"SUBSTRING(t.filename, p.n, {GRAM})"
    else:
        pieces = f"JOIN json_each('{positions}') AS p ON p.value <= length(t.filename) - {SHORTEST - 1}"
        gram = f"substr(t.filename, p.value, {GRAM})"
    ignore = "INSERT IGNORE" if vendor == "mysql" else "INSERT OR IGNORE"
    return [f"DELETE FROM {grams}",
            f"{ignore} INTO {grams} (user_id, gram, created_us, task_key) "
            f"SELECT t.user_id, {gram}, {created_us_sql(vendor, 't')}, {_key(vendor, 't')} FROM {tasks} t {pieces}"]


def ends_sql(vendor: str, tasks: str, grams: str) -> list[str]:
    """The last-two-characters piece of every task's name (migration 0024: the rows the triggers add since)."""
    ignore = "INSERT IGNORE" if vendor == "mysql" else "INSERT OR IGNORE"
    length, substr = ("CHAR_LENGTH", "SUBSTRING") if vendor == "mysql" else ("length", "substr")
    return [f"{ignore} INTO {grams} (user_id, gram, created_us, task_key) "
            f"SELECT t.user_id, {substr}(t.filename, {length}(t.filename) - 1, {GRAM}), "
            f"{created_us_sql(vendor, 't')}, {_key(vendor, 't')} FROM {tasks} t "
            f"WHERE {length}(t.filename) >= {SHORTEST} AND {length}(t.filename) <= {MAX_NAME}"]


def ends_drop_sql(vendor: str, grams: str) -> list[str]:
    """Undo ends_sql: the pieces shorter than GRAM."""
    length = "CHAR_LENGTH" if vendor == "mysql" else "length"
    return [f"DELETE FROM {grams} WHERE {length}(gram) < {GRAM}"]


# --- Reads ------------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)


def created_us(value: datetime) -> int:
    """A created_at as the index orders it: microseconds since 1970 (UTC), exactly."""
    return (value - _EPOCH) // timedelta(microseconds=1)


def grams_of(q: str) -> list[str]:
    """The distinct three-character pieces of ``q``, in order (none when it is shorter)."""
    return list(dict.fromkeys(q[i:i + GRAM] for i in range(len(q) - GRAM + 1)))


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _tables():
    from tasks.models import Task, TaskNameGram

    return _quote(TaskNameGram._meta.db_table), _quote(Task._meta.db_table)


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@dataclass
class NameMatch:
    """How the index finds the user's tasks whose file name contains ``q``: the rows of the rarest piece
    (the driver), each checked for the other pieces by primary-key lookups and for the whole of ``q`` in
    its task. ``empty``: some piece is in none of the user's names, so nothing matches. ``prefix``: ``q``
    has two characters and the driver is every piece that starts with them (a task may hold several)."""

    user_id: int
    q: str
    driver: str = ""
    others: list[str] = field(default_factory=list)
    empty: bool = False
    common: bool = False  # even the rarest piece is in ESTIMATE_CAP names or more: the index would not narrow much
    prefix: bool = False

    def sql(self, *, created_from_us=None, created_to_us=None, statuses=None) -> tuple[str, list]:
        """``FROM ... WHERE ...`` over the driver's rows ``d`` (columns created_us, task_key)."""
        grams, tasks = _tables()
        where, params = _driver_where(self.driver, self.prefix)
        where, params = ["d.user_id = %s", *where], [self.user_id, *params]
        if created_from_us is not None:
            where.append("d.created_us >= %s")
            params.append(created_from_us)
        if created_to_us is not None:
            where.append("d.created_us < %s")
            params.append(created_to_us)
        for other in self.others:
            where.append(f"EXISTS (SELECT 1 FROM {grams} o WHERE o.user_id = d.user_id AND o.gram = %s "
                         "AND o.created_us = d.created_us AND o.task_key = d.task_key)")
            params.append(other)
        checks = []
        # The pieces may be apart: the name itself decides, as icontains would. A piece is also a name's
        # last two characters, which MariaDB's PAD SPACE takes as equal to them and a space: "ab " = "ab".
        if len(self.q) > GRAM or (not self.prefix and self.q.endswith(" ")):
            escape = "" if connection.vendor == "mysql" else " ESCAPE '\\'"  # MySQL's LIKE escapes with \ already
            checks.append(f"t.filename LIKE %s{escape}")
            params.append(_like(self.q))
        if statuses:
            checks.append(f"t.status IN ({', '.join(['%s'] * len(statuses))})")
            params += list(statuses)
        if checks:
            where.append(f"EXISTS (SELECT 1 FROM {tasks} t WHERE t.id = {task_id_sql('d.task_key')} AND "
                         + " AND ".join(checks) + ")")
        return f"FROM {grams} d WHERE " + " AND ".join(where), params

    def select(self, limit: int | None = None, **bounds) -> tuple[str, list]:
        """SELECT of the matches' (created_us, task_key), each task once, newest first when cut at ``limit``."""
        body, params = self.sql(**bounds)
        select = f"SELECT {'DISTINCT ' if self.prefix else ''}d.created_us, d.task_key {body}"
        if limit is not None:
            select = f"SELECT * FROM ({select} ORDER BY d.created_us DESC, d.task_key LIMIT {int(limit)}) AS n"
        return select, params

    def page(self, limit: int, **bounds) -> list[tuple[int, str]]:
        """[(created_us, task id)] of the first ``limit`` matches, newest first (ties: task id order)."""
        if self.empty or limit <= 0:
            return []
        select, params = self.select(limit, **bounds)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT n.created_us, {task_id_sql('n.task_key')} FROM ({select}) AS n "
                           "ORDER BY n.created_us DESC, n.task_key", params)
            return list(cursor.fetchall())

    def count(self, cap: int | None = None, **bounds) -> int:
        """How many of the user's tasks match (at most ``cap``, when given)."""
        if self.empty:
            return 0
        select, params = self.select(**bounds)
        limit = " LIMIT %s" if cap is not None else ""
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM ({select}{limit}) AS found",
                           [*params, cap] if cap is not None else params)
            return cursor.fetchone()[0]

    def ids(self, limit: int, **bounds) -> list[str]:
        """The ids (as tasks.id holds them) of at most ``limit`` matches, newest first."""
        return [task_id for _created, task_id in self.page(limit, **bounds)]


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _driver_where(piece: str, prefix: bool) -> tuple[list[str], list]:
    """The condition on ``d.gram``: the piece itself, or (``prefix``) every piece that starts with it."""
    if not prefix:
        return ["d.gram = %s"], [piece]
    if connection.vendor == "mysql":  # a range of the index, in the column's collation
        return ["d.gram LIKE %s"], [_like(piece)[1:]]
    # SQLite reads no index for a LIKE with ESCAPE: a NOCASE range holding every match (a character past
    # '@' may widen it), the LIKE (ASCII case ignored, as NOCASE) keeps the matches.
    low = piece.translate(_ASCII_LOWER)  # NOCASE folds ASCII letters only
    high = prefix_end(low).translate(_ASCII_LOWER)  # NOCASE would read an upper-case end as its lower case
    return ["d.gram >= %s", "d.gram < %s", "d.gram LIKE %s ESCAPE '\\'"], [low, high, _like(piece)[1:]]


def _estimates(user_id: int, pieces: list[str], prefix: bool = False) -> list[int]:
    """The index rows of each piece (``prefix``: of the pieces starting with it), counted up to ESTIMATE_CAP: one query."""
    grams, _tasks = _tables()
    selects, params = [], []
    for i, piece in enumerate(pieces):
        where, more = _driver_where(piece, prefix)
        selects.append(f"SELECT {i} AS n, (SELECT COUNT(*) FROM (SELECT 1 AS one FROM {grams} d "
                       f"WHERE d.user_id = %s AND {' AND '.join(where)} LIMIT {ESTIMATE_CAP}) AS c) AS found")
        params += [user_id, *more]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(selects), params)
        found = dict(cursor.fetchall())
    return [found[i] for i in range(len(pieces))]


def name_match(user_id: int, q: str) -> NameMatch | None:
    """The plan for the user's tasks whose file name contains ``q`` (None: the index does not narrow it
    down: ``q`` is one character, or two found in ESTIMATE_CAP names or more; the caller walks the names)."""
    if len(q) == SHORTEST:
        found = _estimates(user_id, [q], prefix=True)[0]
        if found >= ESTIMATE_CAP:
            return None
        return NameMatch(user_id=user_id, q=q, driver=q, prefix=True, empty=not found)
    pieces = grams_of(q)
    if not pieces:
        return None
    # Pieces the collation finds equal ("Inv", "inv") would be counted and checked twice: drop them.
    folded = {}
    for piece in pieces:
        folded.setdefault(piece.casefold(), piece)
    pieces = list(folded.values())
    estimates = _estimates(user_id, pieces)
    ranked = sorted(zip(estimates, range(len(pieces))))
    if ranked[0][0] == 0:
        return NameMatch(user_id=user_id, q=q, empty=True)
    order = [pieces[i] for _n, i in ranked]
    return NameMatch(user_id=user_id, q=q, driver=order[0], others=order[1:1 + MAX_CHECKED],
                     common=ranked[0][0] >= ESTIMATE_CAP)
