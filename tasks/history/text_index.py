"""The text index: one row per (owner, search term, task) in ``task_terms``, for the search inside the text.

A full-text index (InnoDB FULLTEXT, FTS5) returns every match of a term, in no useful order: the
history then sorts and counts them all (a common word: 1.5-1.9 s at a million tasks). Here the
primary key is (user_id, term, created_us DESC, task_key), the order of the history, clustered on
InnoDB and WITHOUT ROWID on SQLite: one user's matches of one term are already newest first, so a
page reads the first rows of the rarest term's range (each candidate checked for the query's other
terms by primary-key lookups) and stops. A word typed is a prefix: its range of terms is walked
term by term (each its own ordered range, merged). The terms are tasks.history.search's, without
the owner's tag (the row has the owner): ``w<folded word>``, ``c<hex of a CJK pair>``.

Triggers on task_texts keep the rows (every writer and every delete, raw SQL included): they split
its ``terms`` column, whose format stays as it was, so existing rows need no rewrite. The task's
created_at is read from the task when its text is written (a task's creation time never changes).
"""

from dataclasses import dataclass, field

from django.db import connection

from tasks.history.triggers import created_us_sql, mysql_table_sql, prefix_end, row_triggers, task_id_sql

TAG = 11  # characters of the owner's tag that starts every term in task_texts.terms ("u" + ten digits)
MAX_TERM = 64  # kind (1) + a word of up to search.MAX_WORD (60) characters
NAMES = ("task_texts_terms_ai", "task_texts_terms_au", "task_texts_terms_ad")
MAX_EXPAND = 100  # terms a prefix is expanded into (one seek each); a broader prefix is read as one range
# Seeks all the prefixes of one query may take together: "a b c … z" would otherwise cost 26 x 101 statements
# (~0.7 s on MariaDB) on every keystroke. Past it, each prefix takes one seek (none, or read as a range).
EXPAND_BUDGET = 300
ESTIMATE_CAP = 2000  # rows counted per query term to find the rarest
_TERM_TYPE = f"varchar({MAX_TERM}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"


# --- Table and triggers ------------------------------------------------------------------------


def table_sql(vendor: str, table: str, comments: dict[str, str], table_comment: str) -> str:
    """CREATE TABLE for TaskTerm (tasks.models): the whole row is its clustered primary key."""
    if vendor == "mysql":
        return mysql_table_sql(table, [("user_id", "bigint"), ("term", _TERM_TYPE), ("created_us", "bigint"),
                                       ("task_key", "binary(16)")],
                               "`user_id`, `term`, `created_us` DESC, `task_key`", "utf8mb4_bin", comments, table_comment)
    if vendor == "sqlite":
        return (f'CREATE TABLE "{table}" (user_id integer NOT NULL, term text NOT NULL, '
                "created_us integer NOT NULL, task_key text NOT NULL, "
                "PRIMARY KEY (user_id, term, created_us DESC, task_key)) WITHOUT ROWID")
    raise NotImplementedError(f"no text index for {vendor}")


def _split(vendor: str, terms: str) -> str:
    """A table ``j`` (column ``j.term``) of the space-separated terms in the SQL expression ``terms``.

    Terms are letters and digits (search._TOKEN), so quoting them as a JSON array is safe."""
    if vendor == "mysql":
        return (f"""JSON_TABLE(CONCAT('["', REPLACE({terms}, ' ', '","'), '"]'), '$[*]' """
                f"COLUMNS (term VARCHAR({TAG + MAX_TERM}) CHARACTER SET utf8mb4 PATH '$')) AS j")
    return f"""json_each('["' || replace({terms}, ' ', '","') || '"]') AS j"""


def _term(vendor: str) -> str:
    return "j.term" if vendor == "mysql" else "j.value"


def _rows_select(vendor: str, row: str, tasks: str, texts: str = "") -> str:
    """SELECT of the index rows of one task_texts row (``row``: NEW, OLD, or the alias x of ``texts``)."""
    key = f"UNHEX({row}.task_id)" if vendor == "mysql" else f"{row}.task_id"
    substr = "SUBSTRING" if vendor == "mysql" else "substr"
    length = "CHAR_LENGTH" if vendor == "mysql" else "length"
    source = f"{texts} {row} JOIN {tasks} t ON t.id = {row}.task_id" if texts else f"{tasks} t"
    where = "" if texts else f"t.id = {row}.task_id AND "
    return (f"SELECT {row}.user_id AS user_id, {substr}({_term(vendor)}, {TAG + 1}) AS term, "
            f"{created_us_sql(vendor, 't')} AS created_us, {key} AS task_key "
            f"FROM {source} JOIN {_split(vendor, f'{row}.terms')} "
            f"WHERE {where}{length}({_term(vendor)}) > {TAG}")


def trigger_sql(vendor: str, texts: str, tasks: str, terms: str, prefix: str = "") -> list[str]:
    """CREATE TRIGGER statements (quoted table names given): task_terms follows task_texts."""
    names = tuple(f"{prefix}{name}" for name in NAMES)
    watched = ("user_id", "task_id", "terms")
    ignore = "INSERT IGNORE" if vendor == "mysql" else "INSERT OR IGNORE"
    insert = f"{ignore} INTO {terms} (user_id, term, created_us, task_key) {_rows_select(vendor, 'NEW', tasks)}"
    if vendor == "mysql":
        # The terms first, then one primary-key lookup each (not a scan of the user's rows).
        delete = (f"DELETE x FROM {tasks} t STRAIGHT_JOIN {_split(vendor, 'OLD.terms')} "
                  f"STRAIGHT_JOIN {terms} x ON x.user_id = OLD.user_id AND x.term = SUBSTRING(j.term, {TAG + 1}) "
                  f"AND x.created_us = {created_us_sql(vendor, 't')} AND x.task_key = UNHEX(OLD.task_id) "
                  f"WHERE t.id = OLD.task_id")
    elif vendor == "sqlite":
        delete = (f"DELETE FROM {terms} WHERE user_id = OLD.user_id "
                  f"AND term IN (SELECT substr(j.value, {TAG + 1}) FROM {_split(vendor, 'OLD.terms')}) "
                  f"AND created_us = (SELECT {created_us_sql(vendor, 't')} FROM {tasks} t WHERE t.id = OLD.task_id) "
                  "AND task_key = OLD.task_id")
    else:
        raise NotImplementedError(f"no text index triggers for {vendor}")
    return row_triggers(vendor, texts, names, watched, insert, delete)


def drop_trigger_sql(vendor: str, prefix: str = "") -> list[str]:
    quote = "`" if vendor == "mysql" else '"'
    return [f"DROP TRIGGER IF EXISTS {quote}{prefix}{name}{quote}" for name in NAMES]


def backfill(cursor, vendor: str, texts: str, tasks: str, terms: str, batch: int = 1000, progress=None) -> int:
    """The rows of every existing text, one owner at a time in batches of ``batch`` texts (the migration's
    back-fill, a repair after loading with the triggers off). INSERT IGNORE: safe beside the triggers."""
    ignore = "INSERT IGNORE" if vendor == "mysql" else "INSERT OR IGNORE"
    cursor.execute(f"SELECT DISTINCT user_id FROM {texts} ORDER BY user_id")
    users = [row[0] for row in cursor.fetchall()]
    rows = _rows_select(vendor, "x", tasks, texts).replace("%", "%%")  # strftime('%s'): not a parameter
    done = 0
    for user_id in users:
        last = 0
        while True:
            cursor.execute(f"SELECT MAX(id), COUNT(*) FROM (SELECT id FROM {texts} WHERE user_id = %s AND id > %s "
                           f"ORDER BY id LIMIT {int(batch)}) AS b", [user_id, last])
            upto, n = cursor.fetchone()
            if not n:
                break
            # Sorted as the key is: each batch fills the owner's part of the tree in order.
            cursor.execute(f"{ignore} INTO {terms} (user_id, term, created_us, task_key) {rows} "
                           "AND x.user_id = %s AND x.id > %s AND x.id <= %s ORDER BY 1, 2, 3 DESC, 4",
                           [user_id, last, upto])
            done += n
            last = upto
            if progress:
                progress(done)
    return done


# --- How many texts hold a term starting with P (task_term_counts) ------------------------------
#
# A text's distinct terms, sorted, hold the terms starting with P side by side, and only the first of them
# shares fewer than len(P) leading characters with the term before it (lcp). So "texts with a term starting
# with P" = the texts' rows (term, lcp) with term in [P, prefix_end(P)) and lcp < len(P), each text once:
# task_term_counts keeps, per owner, how many texts have each (lcp, term), and the API's exact count of a
# common word is a few of its rows, not a COUNT(DISTINCT) over every row of the word's terms (~230,000 for
# "the" at 100,000 tasks). The key starts (user_id, lcp): a count reads one range per lcp < len(P), only
# the rows it adds up.

COUNT_NAMES = ("task_texts_counts_ai", "task_texts_counts_au", "task_texts_counts_ad")
COUNT_WATCHED = ("user_id", "terms")


def counts_table_sql(vendor: str, table: str, comments: dict[str, str], table_comment: str) -> str:
    """CREATE TABLE for TaskTermCount (tasks.models): key (user_id, lcp, term), the number of texts."""
    if vendor == "mysql":
        return mysql_table_sql(table, [("user_id", "bigint"), ("lcp", "smallint"), ("term", _TERM_TYPE),
                                       ("texts", "int")],
                               "`user_id`, `lcp`, `term`", "utf8mb4_bin", comments, table_comment)
    if vendor == "sqlite":
        return (f'CREATE TABLE "{table}" (user_id integer NOT NULL, lcp integer NOT NULL, term text NOT NULL, '
                "texts integer NOT NULL, PRIMARY KEY (user_id, lcp, term)) WITHOUT ROWID")
    raise NotImplementedError(f"no text index counts for {vendor}")


def _lcp_sql(term: str, prev: str) -> str:
    """SQL for how many leading characters ``term`` shares with ``prev`` (0 when prev is NULL): character by
    character, stopping at the first difference (sorted neighbours share one or two, so a few tests each)."""
    cases = " ".join(f"WHEN substr({term}, {k}, 1) <> substr({prev}, {k}, 1) THEN {k - 1}"
                     for k in range(1, MAX_TERM + 1))
    return f"CASE WHEN {prev} IS NULL THEN 0 {cases} ELSE {MAX_TERM} END"


def _lcp_rows(vendor: str, row: str) -> str:
    """SELECT (user_id, lcp, term) of one task_texts row (``row``: NEW or OLD): its distinct terms in code point
    order (utf8mb4_bin, SQLite's BINARY), each with its lcp to the one before (``term_rows`` in Python)."""
    if vendor == "mysql":
        split = (f"""JSON_TABLE(CONCAT('["', REPLACE({row}.terms, ' ', '","'), '"]'), '$[*]' """
                 f"COLUMNS (term VARCHAR({TAG + MAX_TERM}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$')) AS j")
        term, length = f"SUBSTRING(j.term, {TAG + 1})", "CHAR_LENGTH(j.term)"
    else:
        split, term, length = _split(vendor, f"{row}.terms"), f"substr(j.value, {TAG + 1})", "length(j.value)"
    distinct = f"SELECT DISTINCT {term} AS term FROM {split} WHERE {length} > {TAG}"
    ordered = f"SELECT d.term, LAG(d.term) OVER (ORDER BY d.term) AS prev FROM ({distinct}) AS d"
    return (f"SELECT {row}.user_id AS user_id, {_lcp_sql('s.term', 's.prev')} AS lcp, s.term AS term "
            f"FROM ({ordered}) AS s")


def term_rows(terms: str):
    """(lcp, term) of a task_texts.terms value, as the triggers make them (Python sorts by code point too)."""
    prev = ""
    for term in sorted({t[TAG:] for t in terms.split(" ") if len(t) > TAG}):
        n, most = 0, min(len(term), len(prev))
        while n < most and term[n] == prev[n]:
            n += 1
        yield n, term
        prev = term


def _upsert(vendor: str, counts: str, select: str) -> str:
    """INSERT the (user_id, lcp, term, texts) rows of ``select`` into the counts, adding to rows already there.

    In key order on MariaDB: every writer locks the rows it adds to in the same order, so two texts
    written at once wait for each other rather than deadlock."""
    insert = f"INSERT INTO {counts} (user_id, lcp, term, texts) "
    if vendor == "mysql":
        return (insert + f"SELECT * FROM ({select}) AS u ORDER BY 1, 2, 3 "
                f"ON DUPLICATE KEY UPDATE {counts}.texts = {counts}.texts + VALUES(texts)")
    return (insert + f"SELECT * FROM ({select}) AS u WHERE true "
            "ON CONFLICT (user_id, lcp, term) DO UPDATE SET texts = texts + excluded.texts")


def _changes(vendor: str, rows: list[tuple[str, int]]) -> str:
    """(user_id, lcp, term, texts) of adding (+1) or removing (-1) the texts ``rows`` names (NEW, OLD): one
    statement, so an edit moves its rows in one pass in key order."""
    parts = " UNION ALL ".join(f"SELECT user_id, lcp, term, {sign} AS d FROM ({_lcp_rows(vendor, row)}) AS r{i}"
                               for i, (row, sign) in enumerate(rows))
    if len(rows) == 1:
        return f"SELECT user_id, lcp, term, d AS texts FROM ({parts}) AS c"
    return (f"SELECT user_id, lcp, term, SUM(d) AS texts FROM ({parts}) AS c "
            "GROUP BY user_id, lcp, term HAVING SUM(d) <> 0")


def _subtract(vendor: str, counts: str) -> str:
    """One less for each row of the text OLD: an UPDATE (a row that is not there stays away, as after emptying
    the table by hand; the back-fill makes it again), in key order on MariaDB (the rows first, materialised in
    order, then a primary-key look-up each), so it locks as the upserts do."""
    rows = _lcp_rows(vendor, "OLD")
    if vendor == "mysql":
        return (f"UPDATE (SELECT * FROM ({rows}) AS r ORDER BY 1, 2, 3 LIMIT 18446744073709551615) AS o "
                f"STRAIGHT_JOIN {counts} c ON c.user_id = o.user_id AND c.lcp = o.lcp AND c.term = o.term "
                "SET c.texts = c.texts - 1")
    return (f"UPDATE {counts} SET texts = texts - 1 WHERE user_id = OLD.user_id "
            f"AND (lcp, term) IN (SELECT lcp, term FROM ({rows}) AS o)")


def _drop_emptied(vendor: str, counts: str, keys: str) -> str:
    """DELETE the rows of ``keys`` (a SELECT of user_id, lcp, term) that no text holds any more, after the
    statement that took them there: a deleted or replaced text's words (a name, an account number) must not
    stay behind, as none stays in task_terms. The same keys, in the same order, as that statement locked, so
    it waits for no other writer."""
    if vendor == "mysql":
        return (f"DELETE c FROM (SELECT * FROM ({keys}) AS r ORDER BY 1, 2, 3 LIMIT 18446744073709551615) AS o "
                f"STRAIGHT_JOIN {counts} c ON c.user_id = o.user_id AND c.lcp = o.lcp AND c.term = o.term "
                "WHERE c.texts <= 0")
    return (f"DELETE FROM {counts} WHERE texts <= 0 AND (user_id, lcp, term) IN "
            f"(SELECT user_id, lcp, term FROM ({keys}) AS o)")


def counts_trigger_sql(vendor: str, texts: str, counts: str, prefix: str = "") -> list[str]:
    """CREATE TRIGGER statements (quoted table names given): task_term_counts follows task_texts.

    An insert adds its rows, a delete subtracts them, an edit (a new run's text) adds the difference in one
    pass; then the rows a delete or an edit took to 0 go."""
    ai, au, ad = (f"{prefix}{name}" for name in COUNT_NAMES)
    add = _upsert(vendor, counts, _changes(vendor, [("NEW", 1)]))
    remove = _subtract(vendor, counts) + "; " + _drop_emptied(vendor, counts, _lcp_rows(vendor, "OLD"))
    moved = _changes(vendor, [("NEW", 1), ("OLD", -1)])
    edit = (_upsert(vendor, counts, moved) + "; "
            + _drop_emptied(vendor, counts, f"SELECT user_id, lcp, term FROM ({moved}) AS m WHERE m.texts < 0"))
    if vendor == "mysql":
        same = " AND ".join(f"OLD.{c} <=> NEW.{c}" for c in COUNT_WATCHED)
        return [f"CREATE TRIGGER `{ai}` AFTER INSERT ON {texts} FOR EACH ROW {add}",
                f"CREATE TRIGGER `{au}` AFTER UPDATE ON {texts} FOR EACH ROW IF NOT ({same}) THEN {edit}; END IF",
                f"CREATE TRIGGER `{ad}` AFTER DELETE ON {texts} FOR EACH ROW BEGIN {remove}; END"]
    if vendor == "sqlite":
        changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in COUNT_WATCHED)
        return [f'CREATE TRIGGER "{ai}" AFTER INSERT ON {texts} FOR EACH ROW BEGIN {add}; END',
                f'CREATE TRIGGER "{au}" AFTER UPDATE OF {", ".join(COUNT_WATCHED)} ON {texts} FOR EACH ROW '
                f"WHEN {changed} BEGIN {edit}; END",
                f'CREATE TRIGGER "{ad}" AFTER DELETE ON {texts} FOR EACH ROW BEGIN {remove}; END']
    raise NotImplementedError(f"no text index count triggers for {vendor}")


def drop_counts_trigger_sql(vendor: str, prefix: str = "") -> list[str]:
    quote = "`" if vendor == "mysql" else '"'
    return [f"DROP TRIGGER IF EXISTS {quote}{prefix}{name}{quote}" for name in COUNT_NAMES]


def counts_backfill(cursor, vendor: str, texts: str, counts: str, batch: int = 5000, progress=None,
                    atomic=None) -> int:
    """Every owner's counts made again from the texts (the migration's back-fill, a repair), beside the triggers.

    One owner at a time, in one transaction (``atomic``: a context manager, e.g. transaction.atomic): the
    owner's texts are locked first (MariaDB; SQLite's write lock comes with the DELETE), the owner's rows
    deleted, then counted again from the texts, read ``batch`` at a time. A text written meanwhile waits, and
    its trigger then adds to rows that count everything before it; one written before was counted by its
    trigger, whose rows the DELETE drops. The counting is Python's (``term_rows``): MariaDB's window function
    and DISTINCT took ~15 us a term, ~40 minutes for 145 million."""
    from collections import Counter
    from contextlib import nullcontext

    atomic = atomic or nullcontext
    cursor.execute(f"SELECT DISTINCT user_id FROM {texts} ORDER BY user_id")
    users = [row[0] for row in cursor.fetchall()]
    done = 0
    for user_id in users:
        with atomic():
            if vendor == "mysql":
                cursor.execute(f"SELECT COUNT(*) FROM {texts} WHERE user_id = %s LOCK IN SHARE MODE", [user_id])
                cursor.fetchone()
            cursor.execute(f"DELETE FROM {counts} WHERE user_id = %s", [user_id])
            tally, last = Counter(), 0
            while True:
                cursor.execute(f"SELECT id, terms FROM {texts} WHERE user_id = %s AND id > %s ORDER BY id "
                               f"LIMIT {int(batch)}", [user_id, last])
                rows = cursor.fetchall()
                if not rows:
                    break
                for _id, terms in rows:
                    tally.update(term_rows(terms))
                last = rows[-1][0]
                done += len(rows)
                if progress:
                    progress(done)
            ordered = sorted(tally.items())  # in key order: the owner's part of the tree filled in order
            for start in range(0, len(ordered), 5000):
                cursor.executemany(f"INSERT INTO {counts} (user_id, lcp, term, texts) VALUES (%s, %s, %s, %s)",
                                   [(user_id, lcp, term, n) for (lcp, term), n in ordered[start:start + 5000]])
    return done


LOCK_CHUNK = 500  # keys per locking statement


def counts_lock_for_delete(task_ids) -> int:
    """MariaDB: lock, in key order, every task_term_counts row that deleting these tasks' texts will change;
    call it inside the deleting transaction, before the delete. Returns how many rows it locked.

    Each text's delete trigger takes its own rows in key order, but a statement that deletes several texts
    runs one trigger after the other: text A's rows, then text B's, which together are not in key order.
    A text of the same owner written meanwhile (a task finishing) takes its rows in key order, so it could
    hold a row of B's while it waits for one of A's held by the delete, which waits for that row of B's:
    a deadlock (tests/tasks/history/test_lock_order.py found it at once). Taken here all at once in key
    order, the delete's rows are the finishing writer's order too, and the one waits for the other."""
    if connection.vendor != "mysql":
        return 0  # SQLite: one writer at a time
    from tasks.models import TaskText

    keys = sorted({(user_id, lcp, term) for user_id, terms in
                   TaskText.objects.filter(task_id__in=list(task_ids)).values_list("user_id", "terms")
                   for lcp, term in term_rows(terms)})
    counts, locked = _quote(_counts_table()), 0
    with connection.cursor() as cursor:
        for start in range(0, len(keys), LOCK_CHUNK):
            chunk = keys[start:start + LOCK_CHUNK]
            # A derived table of the keys in order, then a primary-key look-up each (STRAIGHT_JOIN): the locks
            # are taken in that order, as the triggers' own statements take theirs. The terms are cast to the
            # key's collation (utf8mb4_bin) before they are sorted: in the connection's (utf8mb4_general_ci)
            # Ukrainian і or Serbian ђ sort before Cyrillic а, after it in the key.
            rows = " UNION ALL ".join([f"SELECT %s AS user_id, %s AS lcp, CAST(%s AS {_TERM_TYPE}) AS term"]
                                      * len(chunk))
            cursor.execute(
                f"SELECT c.texts FROM (SELECT * FROM ({rows}) AS k ORDER BY 1, 2, 3 LIMIT 18446744073709551615) AS o "
                f"STRAIGHT_JOIN {counts} c ON c.user_id = o.user_id AND c.lcp = o.lcp AND c.term = o.term FOR UPDATE",
                [value for key in chunk for value in key])
            locked += len(cursor.fetchall())
    return locked


def _counts_table() -> str:
    from tasks.models import TaskTermCount

    return TaskTermCount._meta.db_table


def texts_counted(user_id: int, group: "Group") -> int | None:
    """How many of the user's texts hold a term of ``group`` (None: the group is neither a prefix nor one
    term): the rows of task_term_counts with lcp < the prefix's length, one range each."""
    counted = _counted_sql(user_id, group)
    if counted is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(*counted)
        return int(cursor.fetchone()[0])


def _counted_sql(user_id: int, group: "Group") -> tuple[str, list] | None:
    """texts_counted's SELECT and parameters (None: the counts cannot answer for ``group``)."""
    from tasks.models import TaskTermCount

    if group.prefix:
        where, params, length = "term >= %s AND term < %s", [group.prefix, prefix_end(group.prefix)], len(group.prefix)
    elif len(group.terms) == 1:
        where, params, length = "term = %s", list(group.terms), len(group.terms[0])
    else:
        return None
    lcps = ", ".join(str(k) for k in range(min(length, MAX_TERM + 1)))
    return (f"SELECT COALESCE(SUM(texts), 0) FROM {_quote(TaskTermCount._meta.db_table)} "
            f"WHERE user_id = %s AND lcp IN ({lcps}) AND {where}", [user_id, *params])


# --- Reads ------------------------------------------------------------------------------------


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _tables():
    from tasks.models import Task, TaskTerm, TaskText

    return _quote(TaskTerm._meta.db_table), _quote(TaskText._meta.db_table), _quote(Task._meta.db_table)


@dataclass
class Group:
    """One term of the query: a task matches it when it holds one of ``terms`` (an exact term, or the
    terms a prefix stands for), or, for a prefix too broad to list, any term in [low, high)."""

    terms: list[str] = field(default_factory=list)
    low: str = ""
    high: str = ""
    prefix: str = ""  # a prefix typed: the group is every term that starts with it (counted in task_term_counts)

    def where(self, alias: str) -> tuple[str, list]:
        if self.terms:
            if len(self.terms) == 1:
                return f"{alias}.term = %s", list(self.terms)
            return f"{alias}.term IN ({', '.join(['%s'] * len(self.terms))})", list(self.terms)
        return f"{alias}.term >= %s AND {alias}.term < %s", [self.low, self.high]


def _expand(user_id: int, prefix: str, most: int = MAX_EXPAND) -> list[str] | None:
    """The terms the user's texts hold that start with ``prefix`` (None: more than ``most``): a walk from
    term to term, one index seek each, never the rows between. One statement per seek: neither MariaDB
    (no loose scan here; a correlated range in a recursive CTE scans) nor a GROUP BY skips the rows."""
    terms_t, _texts, _tasks = _tables()
    high, found, after = prefix_end(prefix), [], None
    with connection.cursor() as cursor:
        while len(found) <= most:
            if after is None:
                cursor.execute(f"SELECT term FROM {terms_t} WHERE user_id = %s AND term >= %s AND term < %s "
                               "ORDER BY term LIMIT 1", [user_id, prefix, high])
            else:
                cursor.execute(f"SELECT term FROM {terms_t} WHERE user_id = %s AND term > %s AND term < %s "
                               "ORDER BY term LIMIT 1", [user_id, after, high])
            row = cursor.fetchone()
            if row is None:
                return found
            after = row[0]
            found.append(after)
    return None


def _estimates(user_id: int, groups: list[Group]) -> list[int]:
    """The index rows of each group, counted up to ESTIMATE_CAP: one query."""
    terms_t, _texts, _tasks = _tables()
    selects, params = [], []
    for i, group in enumerate(groups):
        sql, more = group.where("g")
        selects.append(f"SELECT {i} AS n, (SELECT COUNT(*) FROM (SELECT 1 AS one FROM {terms_t} g "
                       f"WHERE g.user_id = %s AND {sql} LIMIT {ESTIMATE_CAP}) AS c) AS found")
        params += [user_id, *more]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(selects), params)
        found = dict(cursor.fetchall())
    return [found[i] for i in range(len(groups))]


@dataclass
class TextMatch:
    """How the index finds the user's tasks whose text matches a query: the rows of the rarest group (the
    driver), each checked for the other groups by primary-key lookups and for the CJK runs of three or
    more characters in its text. ``empty``: some group is in none of the user's texts."""

    user_id: int
    driver: Group | None = None
    others: list[Group] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    empty: bool = False

    def _checks(self, alias: str, statuses=None) -> tuple[list[str], list]:
        terms_t, texts_t, tasks_t = _tables()
        # The texts' own columns compare characters exactly, as task_terms (utf8mb4_bin) does: MariaDB's
        # utf8mb4_unicode_ci would take パパイヤ for ハハイヤ in a LIKE (SQLite's LIKE folds ASCII case only).
        like = "LIKE BINARY" if connection.vendor == "mysql" else "LIKE"
        where, params = [], []
        for group in self.others:
            if group.terms:
                sql, more = group.where("o")
                where.append(f"EXISTS (SELECT 1 FROM {terms_t} o WHERE o.user_id = {alias}.user_id AND {sql} "
                             f"AND o.created_us = {alias}.created_us AND o.task_key = {alias}.task_key)")
            else:  # too many terms to look up one by one: the text's own list of terms
                tag = f"u{self.user_id:010d}"
                sql = f"CONCAT(' ', x.terms) {like} %s" if connection.vendor == "mysql" else "(' ' || x.terms) LIKE %s"
                where.append(f"EXISTS (SELECT 1 FROM {texts_t} x WHERE x.task_id = {task_id_sql(f'{alias}.task_key')} "
                             f"AND {sql})")
                more = [f"% {tag}{group.low}%"]
            params += more
        for run in self.runs:  # the pairs are there; are they side by side?
            where.append(f"EXISTS (SELECT 1 FROM {texts_t} x WHERE x.task_id = {task_id_sql(f'{alias}.task_key')} "
                         f"AND x.text {like} %s)")
            params.append(f"%{run}%")
        if statuses:
            where.append(f"EXISTS (SELECT 1 FROM {tasks_t} t WHERE t.id = {task_id_sql(f'{alias}.task_key')} "
                         f"AND t.status IN ({', '.join(['%s'] * len(statuses))}))")
            params += list(statuses)
        return where, params

    def _where(self, part: Group, *, created_from_us=None, created_to_us=None, statuses=None,
               extra: tuple[list[str], list] = ([], [])) -> tuple[str, list]:
        """The WHERE over the driver's rows ``d`` of ``part`` (the driver or one of its terms)."""
        checks, check_params = self._checks("d", statuses)
        bounds, bound_params = [], []
        if created_from_us is not None:
            bounds.append("d.created_us >= %s")
            bound_params.append(created_from_us)
        if created_to_us is not None:
            bounds.append("d.created_us < %s")
            bound_params.append(created_to_us)
        sql, params = part.where("d")
        where = " AND ".join(["d.user_id = %s", sql, *extra[0], *bounds, *checks])
        return where, [self.user_id, *params, *extra[1], *bound_params, *check_params]

    def selects(self, limit: int | None = None, **bounds) -> list[tuple[str, list]]:
        """SELECTs of (created_us, task_key) whose UNION is the matches: one per driver term, each in index
        order and cut at ``limit`` (the union's first ``limit`` rows are then the matches' first)."""
        if self.empty:
            return []
        terms_t, _texts, _tasks = _tables()
        parts = [Group(terms=[term]) for term in self.driver.terms] if self.driver.terms else [self.driver]
        out = []
        for part in parts:
            where, params = self._where(part, **bounds)
            select = f"SELECT d.created_us, d.task_key FROM {terms_t} d WHERE {where}"
            if limit is not None:
                select = f"SELECT * FROM ({select} ORDER BY d.created_us DESC, d.task_key LIMIT {int(limit)}) AS p"
            out.append((select, params))
        return out

    def count(self, **bounds) -> int:
        """How many of the user's tasks match: the driver's rows counted in its index range, each task once.

        One term: its rows are one per task (COUNT(*) of the range, no sort, no temporary table); several
        (a prefix's terms): distinct tasks. A UNION of one SELECT per term would copy every row into a
        temporary table first (a common word at 100,000 tasks: ~250,000 rows). One word, prefix or CJK pair
        without a date filter is counted from task_term_counts instead: a few rows (``texts_counted``), and
        with a status filter the smaller side task by task (``_count_in_statuses``)."""
        if self.empty:
            return 0
        if not (self.others or self.runs or bounds.get("created_from_us") is not None
                or bounds.get("created_to_us") is not None):
            statuses = bounds.get("statuses")
            found = self._count_in_statuses(statuses) if statuses else texts_counted(self.user_id, self.driver)
            if found is not None:
                return found
        terms_t, _texts, _tasks = _tables()
        where, params = self._where(self.driver, **bounds)
        counted = "COUNT(*)" if len(self.driver.terms) == 1 else "COUNT(DISTINCT d.task_key)"
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {counted} FROM {terms_t} d WHERE {where}", params)
            return cursor.fetchone()[0]

    def _count_in_statuses(self, statuses) -> int | None:
        """The matches among the tasks in ``statuses``, from the smaller side: the tasks in those statuses checked
        one by one, or every match (task_term_counts) less the matches among the tasks in the other statuses (a
        filter of "completed" checks the few failed and cancelled tasks, most without a text). TaskSummary's
        tasks per status choose the side. None: the driver has no terms to look up task by task, or the counts
        cannot answer. One statement: MariaDB reads in READ COMMITTED, where each statement sees its own
        moment, and a task deleted or moved between two reads would be counted in one and not the other."""
        from tasks.models import Task, TaskSummary

        if not self.driver.terms:
            return None
        inside = set(statuses)
        sizes = dict(TaskSummary.objects.filter(user_id=self.user_id).values_list("status", "tasks"))
        outside = sorted(set(Task.Status.values) - inside)  # not the summary's: a row it has not yet
        subtract = sum(sizes.get(s, 0) for s in outside) < sum(sizes.get(s, 0) for s in inside)
        checked = outside if subtract else sorted(inside)
        _terms, texts_t, tasks_t = _tables()
        found, params = self.contains("n")
        key = "UNHEX(t.id)" if connection.vendor == "mysql" else "t.id"
        created = created_us_sql(connection.vendor, "t").replace("%", "%%")
        if checked:
            some = (f"SELECT COUNT(*) FROM (SELECT {created} AS created_us, {key} AS task_key FROM {tasks_t} t "
                    f"WHERE t.user_id = %s AND t.status IN ({', '.join(['%s'] * len(checked))}) "
                    f"AND EXISTS (SELECT 1 FROM {texts_t} x WHERE x.task_id = t.id)) AS n WHERE {found}")
            some_params = [self.user_id, *checked, *params]
        else:
            some, some_params = "SELECT 0", []
        if subtract:
            counted = _counted_sql(self.user_id, self.driver)
            if counted is None:
                return None
            sql, params = f"SELECT ({counted[0]}) - ({some})", [*counted[1], *some_params]
        else:
            sql, params = some, some_params
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return int(cursor.fetchone()[0])

    def contains(self, alias: str) -> tuple[str, list] | None:
        """SQL true when the task of ``alias``'s (created_us, task_key) matches (primary-key look-ups, one per
        driver term); None when the driver is a range of terms (no look-up: a scan of the range)."""
        if self.empty or not self.driver.terms:
            return None
        terms_t, _texts, _tasks = _tables()
        where, params = self._where(self.driver, extra=(
            [f"d.created_us = {alias}.created_us", f"d.task_key = {alias}.task_key"], []))
        return f"EXISTS (SELECT 1 FROM {terms_t} d WHERE {where})", params


def text_match(user_id: int, query) -> TextMatch | None:
    """The plan for a tasks.history.search.Query (None: it has no terms)."""
    if not query:
        return None
    groups, budget = [], EXPAND_BUDGET
    for term, prefix in query.terms:
        term = term[TAG:]
        if not prefix:
            groups.append(Group(terms=[term]))
            continue
        most = max(0, min(MAX_EXPAND, budget))
        terms = _expand(user_id, term, most)
        budget -= len(terms) + 1 if terms is not None else most + 1
        if terms is None:
            groups.append(Group(low=term, high=prefix_end(term), prefix=term))
        elif not terms:  # a prefix no term of the user starts with: nothing matches
            return TextMatch(user_id=user_id, empty=True)
        else:
            groups.append(Group(terms=terms, prefix=term))
    runs = [run for run in query.runs if len(run) > 2]
    if len(groups) == 1:
        return TextMatch(user_id=user_id, driver=groups[0], runs=runs)
    estimates = _estimates(user_id, groups)
    ranked = sorted(range(len(groups)), key=lambda i: (estimates[i], len(groups[i].terms) or MAX_EXPAND + 1))
    if estimates[ranked[0]] == 0:
        return TextMatch(user_id=user_id, empty=True)
    return TextMatch(user_id=user_id, driver=groups[ranked[0]], others=[groups[i] for i in ranked[1:]], runs=runs)
