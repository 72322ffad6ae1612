"""Reads of tasks and files. Every query for user data takes the user.

The history queries are shaped for a user with 100,000 tasks on MariaDB: every
ordering is a forward or backward walk of one index (see ``order_keys``), pages
fetch their ids from the index before the rows (no row reads for skipped
offsets), and the export walks the rows in keyset chunks instead of buffering a
whole result set in the client library.
"""

import bisect
import math
import uuid
from dataclasses import dataclass
from typing import NamedTuple
from datetime import date, datetime, time, timedelta, timezone as dt_timezone

from django.db import connection
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from core.errors import NotFound
from core.raw_sql import convert_value, select_rows, select_values, select_with_parent
from tasks.history import names, search, text_index
from tasks.history.params import DEFAULT_ORDERING, ORDERINGS
from tasks.history.triggers import task_id_sql
from tasks.models import Task, TaskFile, TaskHourSummary, TaskStorage, TaskSummary, TaskText, UserStorage

# For each sort key, the key list that one index walks forward (the reverse ordering walks it
# backwards): ties are broken by the newest first, then the id, as the index stores them.
_FORWARD_KEYS = {
    "created_at": [("created_at", True), ("id", False)],
    "status": [("status", False), ("created_at", True), ("id", False)],
    "filename": [("filename", False), ("created_at", True), ("id", False)],
    "processing_seconds": [("processing_seconds", False), ("created_at", True), ("id", False)],
}
_NULLABLE = {"processing_seconds"}


def order_keys(ordering: str) -> list[tuple[str, bool]]:
    """[(field, descending), ...] for an ordering such as '-created_at'; unknown values fall back to the default."""
    if ordering not in ORDERINGS:
        ordering = DEFAULT_ORDERING
    name = ordering.lstrip("-")
    keys = _FORWARD_KEYS[name]
    # The forward walk is the ascending order of the key, except created_at whose index is newest-first.
    forward_is_requested = ordering.startswith("-") if name == "created_at" else not ordering.startswith("-")
    return keys if forward_is_requested else [(field, not desc) for field, desc in keys]


def _order_by(keys) -> list[str]:
    return [("-" if desc else "") + field for field, desc in keys]


def day_start(day: date) -> datetime:
    """Midnight of a date in the site's time zone, as an aware datetime."""
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def date_bounds(filters: dict) -> tuple[datetime | None, datetime | None]:
    """[start, end) of ``created_from`` to ``created_to``, both whole days in TIME_ZONE; None for an open end."""
    start = day_start(filters["created_from"]) if filters.get("created_from") else None
    end = day_start(filters["created_to"] + timedelta(days=1)) if filters.get("created_to") else None
    return start, end


def in_date_range(qs: QuerySet, filters: dict) -> QuerySet:
    """Rows created in the filters' date range (date_bounds)."""
    start, end = date_bounds(filters)
    if start is not None:
        qs = qs.filter(created_at__gte=start)
    if end is not None:
        qs = qs.filter(created_at__lt=end)
    return qs


def _filtered(*, user, filters: dict) -> QuerySet[Task]:
    qs = Task.objects.filter(user=user)
    if filters.get("status"):
        qs = qs.filter(status__in=list(filters["status"]))
    if filters.get("q"):
        if not filters["q"].isprintable():
            # Stored names hold printable characters only (services._safe_display_name), so nothing
            # matches; and SQLite's LIKE would stop at a NUL and match everything.
            return qs.none()
        qs = qs.filter(Q(filename__icontains=filters["q"]) | Q(pk__in=task_text_matches(user=user, q=filters["q"])))
    return in_date_range(qs, filters)


def text_match(*, user, q: str) -> text_index.TextMatch | None:
    """How the text index finds the user's tasks whose recognised text matches ``q`` (None: no terms)."""
    return text_index.text_match(user.pk, search.Query(user.pk, q))


def task_text_matches(*, user, q: str):
    """Ids of the user's tasks whose recognised text matches ``q`` (tasks.history.search): a subquery.

    Words match as prefixes, Chinese/Japanese as substrings; the text index (tasks/history/text_index.py)
    reads only the user's rows of the query's rarest term.
    """
    match = text_match(user=user, q=q)
    if match is None or match.empty:
        return TaskText.objects.none().values("task_id")
    sql, params = _union(match.selects())
    return RawSQL(f"SELECT {task_id_sql('m.task_key')} FROM ({sql}) AS m", params)


def _union(selects) -> tuple[str, list]:
    return " UNION ".join(sql for sql, _params in selects), [p for _sql, params in selects for p in params]


@dataclass
class _ShortName:
    """Names containing a ``q`` too short for the file-name index (under three characters): the user's
    names read in list order from the history's covering index, stopping when enough are found."""

    user_id: int
    q: str
    empty = False

    def select(self, limit: int | None, bounds: dict) -> tuple[str, list]:
        tasks_t = connection.ops.quote_name(Task._meta.db_table)
        if connection.vendor == "mysql":
            created, key, escape = "TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', t.created_at)", "UNHEX(t.id)", ""
        else:
            created = ("(CAST(strftime('%%s', t.created_at) AS INTEGER) * 1000000 "
                       "+ CAST(substr(t.created_at || '.000000', 21, 6) AS INTEGER))")
            key, escape = "t.id", " ESCAPE '\\'"
        like = "%" + self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        qs = in_date_range(Task.objects.filter(user_id=self.user_id), bounds["filters"])
        if bounds["statuses"]:
            qs = qs.filter(status__in=bounds["statuses"])
        where, params = qs.query.where.as_sql(qs.query.get_compiler(connection=connection), connection)
        where = where.replace(f"{tasks_t}.", "t.")
        select = (f"SELECT {created} AS created_us, {key} AS task_key FROM {tasks_t} t "
                  f"WHERE {where} AND t.filename LIKE %s{escape}")
        if limit is not None:
            select = f"SELECT * FROM ({select} ORDER BY t.created_at DESC, t.id LIMIT {int(limit)}) AS s"
        return select, [*params, like]


def _search_selects(name, text, limit: int | None, bounds: dict) -> list[tuple[str, list]]:
    """SELECTs of (created_us, task_key) whose UNION is the tasks whose file name contains q or whose text
    matches it, each in index order and cut at ``limit`` (so the union's first ``limit`` rows are exact)."""
    selects = []
    if isinstance(name, _ShortName):
        selects.append(name.select(limit, bounds))
    elif not name.empty:
        selects.append(name.select(limit, **{k: v for k, v in bounds.items() if k != "filters"}))
    if text is not None:
        selects += text.selects(limit, **{k: v for k, v in bounds.items() if k != "filters"})
    return selects


def _search_first(selects, limit: int) -> list[uuid.UUID]:
    """The ids of the first ``limit`` tasks of the union, newest first (ties: id order), as the list orders."""
    if not selects:
        return []
    sql, params = _union(selects)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {task_id_sql('m.task_key')} FROM ({sql}) AS m "
                       f"ORDER BY m.created_us DESC, m.task_key LIMIT {int(limit)}", params)
        return [uuid.UUID(row[0]) for row in cursor.fetchall()]


def _search_count(selects) -> int:
    if not selects:
        return 0
    sql, params = _union(selects)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM ({sql}) AS m", params)
        return cursor.fetchone()[0]


def _search_total(name, text, bounds: dict) -> int:
    """Every match of a search (the API's exact count), from the indexes.

    Name and text matches overlap, so their union is what counts, but a UNION of a common word's rows
    copies them all into a temporary table. Instead: the text matches counted in their index range
    (TextMatch.count), plus the name matches whose text does not match (a few primary-key look-ups
    each). The UNION stays for what the indexes cannot narrow down (a name search of one or two
    characters in many names, a prefix too broad to list its terms) on both sides at once."""
    plain = {k: v for k, v in bounds.items() if k != "filters"}
    if isinstance(name, names.NameMatch) and name.empty:
        return text.count(**plain) if text is not None else 0
    if text is None and isinstance(name, names.NameMatch):
        return name.count(**plain)
    contains = text.contains("n") if text is not None else None
    if isinstance(name, names.NameMatch) and not name.common and contains is not None:
        select, params = name.select(**plain)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM ({select}) AS n WHERE NOT {contains[0]}", [*params, *contains[1]])
            return text.count(**plain) + cursor.fetchone()[0]
    return _search_count(_search_selects(name, text, None, bounds))


def _search_bounds(filters: dict) -> dict:
    start, end = date_bounds(filters)
    return {"created_from_us": names.created_us(start) if start else None,
            "created_to_us": names.created_us(end) if end else None,
            "statuses": list(filters.get("status") or []), "filters": filters}


def _search_sources(*, user, filters: dict):
    """(file-name match, text match) of ``q``: the file-name index's plan (or, for a ``q`` shorter than its
    pieces, a walk over the user's names that stops at the rows needed) and the text index's."""
    name = names.name_match(user.pk, filters["q"]) or _ShortName(user_id=user.pk, q=filters["q"])
    text = text_match(user=user, q=filters["q"])
    return name, (text if text is not None and not text.empty else None)


def task_snippets(*, user, task_ids, q: str) -> dict:
    """{task id: snippet parts} (tasks.history.search.snippet_parts) for the user's tasks whose text matches ``q``."""
    if not q or not task_ids:
        return {}
    texts = TaskText.objects.filter(user=user, task_id__in=list(task_ids)).values_list("task_id", "text")
    found = {task_id: search.snippet_parts(text, q) for task_id, text in texts}
    return {task_id: parts for task_id, parts in found.items() if parts}


def task_list(*, user, filters: dict | None = None) -> QuerySet[Task]:
    """The user's tasks, filtered and ordered (newest first unless ``filters['ordering']`` says otherwise).

    filters: ``status`` (list), ``q`` (file name contains, or the recognised text matches), ``created_from`` / ``created_to``
    (dates, inclusive, in TIME_ZONE), ``ordering`` (see tasks.history.params.ORDERINGS).
    """
    filters = filters or {}
    keys = order_keys(filters.get("ordering") or DEFAULT_ORDERING)
    return _filtered(user=user, filters=filters).order_by(*_order_by(keys))


class TaskRow:
    """The columns of a task that the history table shows, read without making a Task instance (a page's 25
    instances, each with every column converted, were a tenth of the history page's CPU); ``snippet_html``
    is set by the page. ``progress_percent`` is Task's own property."""

    __slots__ = ("id", "user_id", "status", "filename", "engine", "pages_done", "page_count", "created_at",
                 "processing_seconds", "snippet_html")
    Status = Task.Status
    progress_percent = Task.progress_percent

    def __init__(self, values):
        for name, value in zip(self.__slots__, values):
            setattr(self, name, value)

    @property
    def pk(self):
        return self.id


@dataclass
class TaskPage:
    """A page of tasks. ``exact`` is False when counting stopped at the cap: ``count`` is then the
    cap and ``more`` says whether rows follow this page."""

    rows: list
    count: int
    page: int
    page_size: int
    exact: bool = True
    more: bool = False

    @property
    def num_pages(self) -> int:
        return max(1, math.ceil(self.count / self.page_size))

    @property
    def has_next(self) -> bool:
        return self.page < self.num_pages if self.exact else self.more

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def start_index(self) -> int:
        return (self.page - 1) * self.page_size + 1 if self.rows else 0

    @property
    def end_index(self) -> int:
        return self.start_index + len(self.rows) - 1 if self.rows else 0


def _page_ids(qs, page: int, page_size: int) -> list:
    """The ids of one page (plus one to tell whether more follow), from the index alone."""
    offset = (page - 1) * page_size
    return list(qs.values_list("id", flat=True)[offset:offset + page_size + 1])


def _plain_page_ids(*, user, statuses, keys, page: int, page_size: int) -> list:
    """``_page_ids`` of a list filtered by status alone (or not at all), in plain SQL: the same statement the
    ORM writes (one index walk, the same ORDER BY), written once per shape; the history's most common pages."""
    statuses = list(statuses or ())
    sql = _PAGE_IDS_SQL.get((connection.vendor, len(statuses), tuple(keys)))
    if sql is None:
        quote, meta = connection.ops.quote_name, Task._meta
        where = f"{quote('user_id')} = %s"
        if statuses:
            where += f" AND {quote('status')} IN ({', '.join(['%s'] * len(statuses))})"
        order = ", ".join(f"{quote(meta.get_field(field).column)} {'DESC' if desc else 'ASC'}" for field, desc in keys)
        sql = _PAGE_IDS_SQL[(connection.vendor, len(statuses), tuple(keys))] = (
            f"SELECT {quote('id')} FROM {quote(meta.db_table)} WHERE {where} ORDER BY {order} LIMIT %s OFFSET %s")
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, *statuses, page_size + 1, (page - 1) * page_size])
        rows = cursor.fetchall()
    return [convert_value(Task, "id", row[0]) for row in rows]


_PAGE_IDS_SQL: dict = {}


def task_summary(*, user) -> dict:
    """{status: {n, pages, seconds, timed}} of all the user's tasks, from TaskSummary (five rows)."""
    rows = select_rows(TaskSummary, equal={"user": user})  # plain SQL: every history page counts from it
    return {row.status: {"n": row.tasks, "pages": row.pages, "seconds": row.seconds if row.timed else None,
                         "timed": row.timed} for row in rows if row.tasks}


def _summary_count(*, user, filters: dict) -> int | None:
    """The exact row count of a list filtered by status alone (or not at all), from the summary; else None."""
    if filters.get("q") or filters.get("created_from") or filters.get("created_to"):
        return None
    summary = task_summary(user=user)
    statuses = set(filters.get("status") or Task.Status.values)
    return sum(row["n"] for status, row in summary.items() if status in statuses)


def _page_ids_from_the_end(qs, keys, offset: int, page_size: int, count: int) -> list:
    """A page in the second half, read by walking the same index from its other end.

    OFFSET costs one index entry per skipped row: the last of 4,000 pages skipped 99,975.
    Reversed, the last page skips none and any page at most half the rows. Same rows, same
    order (every key is reversed, so NULLs and ties come out exactly mirrored); one row past
    the page is added when more follow, like ``_page_ids``.
    """
    if offset >= count:
        return []
    reverse = [(field, not desc) for field, desc in keys]
    after_page = max(0, count - offset - page_size)
    take = min(page_size, count - offset)
    extra = 1 if after_page > 0 else 0  # the row after the page, so the caller knows more follow
    start = after_page - extra
    ids = list(qs.order_by(*_order_by(reverse)).values_list("id", flat=True)[start:start + take + extra])
    return ids[::-1]


SORT_HERE_LIMIT = 200  # name-search matches ordered in Python rather than by an index walk


def _sort_like_the_database(rows: list, keys) -> None:
    """Sort value tuples (one per key, in ``keys`` order) as ORDER BY does: NULL first ascending, ids by hex."""
    def value(v):
        if v is None:
            return (0, 0)
        return (1, v.hex if isinstance(v, uuid.UUID) else v)

    for position in reversed(range(len(keys))):
        rows.sort(key=lambda row: value(row[position]), reverse=keys[position][1])


def _few_search_matches(qs: QuerySet[Task], keys) -> list | None:
    """All ids of a name search in list order when it has at most SORT_HERE_LIMIT matches, else None.

    A search with few matches reads the user's whole index range anyway: this reads the sort
    keys of the matches in that one pass (a covering index, in any order) and orders them
    here, instead of counting and then walking an ordered index that lacks the file name.
    """
    fields = [field for field, _desc in keys]
    found = list(qs.order_by().values_list(*fields)[:SORT_HERE_LIMIT + 1])
    if len(found) > SORT_HERE_LIMIT:
        return None
    _sort_like_the_database(found, keys)
    return [row[fields.index("id")] for row in found]


def _few_matches_by_index(*, user, filters: dict, qs: QuerySet[Task], keys, sources) -> list | None:
    """All ids of a search in list order when the indexes show it has few matches (else None).

    The file-name index (tasks/history/names.py) and the text index (tasks/history/text_index.py) give
    the first SORT_HERE_LIMIT + 1 matches; when there are no more, only those tasks are read (with every
    filter) and ordered here. A search that matches nothing costs the index look-ups, not a walk over
    every task of the user. None: even the rarest name piece is common (names.ESTIMATE_CAP), or either
    side has many matches (the walk finds a page soon enough).
    """
    name, text = sources
    if getattr(name, "common", False):
        return None
    first = _search_first(_search_selects(name, text, SORT_HERE_LIMIT + 1, _search_bounds(filters)),
                          SORT_HERE_LIMIT + 1)
    if len(first) > SORT_HERE_LIMIT:
        return None
    if not first:
        return []
    fields = [field for field, _desc in keys]
    rows = list(qs.filter(pk__in=first).order_by().values_list(*fields))  # every filter applies, q included
    _sort_like_the_database(rows, keys)
    return [row[fields.index("id")] for row in rows]


def _newest_first_search(*, filters: dict, sources, page: int, page_size: int,
                         count_limit: int | None) -> tuple[list, int, bool, int | None]:
    """(ids of the page and one more, count, exact, every match's count when all were read) of a search in
    the default order, from the indexes alone.

    Both indexes hold their rows newest first, so the page is the first rows of the union of their
    ranges (the rarest term's, the rarest piece's), each cut at the rows needed: the page's, and for the
    HTML table the first ``count_limit`` + 1 (its capped count, from the same rows), or SORT_HERE_LIMIT + 1
    when the file-name index narrows (few matches are counted exactly). The API counts every match.
    """
    name, text = sources
    bounds = _search_bounds(filters)
    need = page * page_size + 1
    base = None
    if count_limit is not None:
        base = count_limit + 1 if getattr(name, "common", True) else max(count_limit, SORT_HERE_LIMIT) + 1
    limit = max(need, base or 0)
    first = _search_first(_search_selects(name, text, limit, bounds), limit)
    known = len(first) if len(first) < limit else None
    if count_limit is None:
        count = known if known is not None else _search_total(name, text, bounds)
        exact = True
    elif len(first) < base:
        count, exact = len(first), True
    else:
        count, exact = count_limit, False
    return first[(page - 1) * page_size:need], count, exact, known


def task_page(*, user, filters: dict | None = None, page: int = 1, page_size: int = 25,
              clamp: bool = False, with_files: bool = False, count_limit: int | None = None,
              light: bool = False) -> TaskPage:
    """One page of ``task_list``: the ids come from an index alone, then only those rows are read.

    count_limit: count at most this many rows (the HTML table: an exact count of 100,000 rows
    costs more than the page itself); the JSON API counts exactly. A list filtered by status
    alone (or not at all) is counted exactly by history.TaskSummary either way.
    clamp: a page past the end shows the last page (the HTML table) instead of an empty one (the API).
    light: the rows are TaskRow (what the history table shows), not Task instances.
    """
    filters = filters or {}
    keys = order_keys(filters.get("ordering") or DEFAULT_ORDERING)
    sources = None
    if filters.get("q") and filters["q"].isprintable():
        sources = _search_sources(user=user, filters=filters)
        if keys == order_keys(DEFAULT_ORDERING):
            return _search_page(user=user, filters=filters, sources=sources, page=page, page_size=page_size,
                                clamp=clamp, with_files=with_files, count_limit=count_limit, light=light)
    simple = not (filters.get("q") or filters.get("created_from") or filters.get("created_to"))
    # Built only when a branch below needs it: a list by status alone is counted by the summary and paged
    # by _plain_page_ids, and composing the queryset cost more than those two reads.
    qs = SimpleLazyObject(lambda: task_list(user=user, filters=filters)) if simple else task_list(user=user, filters=filters)
    all_ids = None
    first = None  # a search's first count_limit + 1 ids in list order: its capped count and its first pages at once
    if filters.get("q") and filters["q"].isprintable():
        if not isinstance(sources[0], _ShortName):
            all_ids = _few_matches_by_index(user=user, filters=filters, qs=qs, keys=keys, sources=sources)
        if all_ids is None and count_limit is not None and keys[0][0] == "created_at":
            first = _page_ids(qs, 1, count_limit)
            if len(first) <= count_limit:
                all_ids, first = first, None
        elif all_ids is None and count_limit is not None and keys[0][0] != "filename":
            all_ids = _few_search_matches(qs, keys)
    summarised = _summary_count(user=user, filters=filters)
    if all_ids is not None:
        count, exact = len(all_ids), True
    elif first is not None:  # more matches than the cap, seen in the walk itself
        count, exact = count_limit, False
    elif summarised is not None:  # unfiltered or by status only: the maintained summary counts exactly, for free
        count, exact = summarised, True
    elif count_limit is None:
        count, exact = qs.count(), True
    else:
        count = qs.order_by()[:count_limit + 1].count()
        exact = count <= count_limit
        count = min(count, count_limit)
    if clamp and exact:
        page = min(page, max(1, math.ceil(count / page_size)))
    offset = (page - 1) * page_size
    if all_ids is not None:
        ids = all_ids[offset:offset + page_size + 1]
    elif first is not None and offset + page_size < len(first):
        ids = first[offset:offset + page_size + 1]
    elif exact and offset >= page_size and offset > count - offset - page_size:
        ids = _page_ids_from_the_end(qs, keys, offset, page_size, count)
    else:
        ids = ((_plain_page_ids(user=user, statuses=filters.get("status"), keys=keys, page=page, page_size=page_size)
                if simple else _page_ids(qs, page, page_size)) if (not exact or offset < count) else [])
    if clamp and not ids and page > 1:  # past the end of a capped count: find the real last page
        count, exact = qs.count(), True
        page = max(1, math.ceil(count / page_size))
        ids = _page_ids(qs, page, page_size)
    return _task_page_rows(user, ids, count=count, page=page, page_size=page_size, exact=exact, with_files=with_files,
                           light=light)


def _search_page(*, user, filters, sources, page, page_size, clamp, with_files, count_limit, light) -> TaskPage:
    ids, count, exact, known = _newest_first_search(filters=filters, sources=sources, page=page,
                                                    page_size=page_size, count_limit=count_limit)
    if clamp and not ids and page > 1:  # past the end: the last page (every match was read to find that out)
        page = max(1, math.ceil((known or 0) / page_size))
        ids, count, exact, known = _newest_first_search(filters=filters, sources=sources, page=page,
                                                        page_size=page_size, count_limit=count_limit)
        if not exact and known is not None:
            count, exact = known, True
    return _task_page_rows(user, ids, count=count, page=page, page_size=page_size, exact=exact, with_files=with_files,
                           light=light)


def _task_page_rows(user, ids, *, count, page, page_size, exact, with_files, light=False) -> TaskPage:
    """The user's tasks of the page, read by id (``ids`` holds one more when more follow).

    Still filtered by owner: a search's ids come from the index tables (raw SQL over task_terms and
    task_name_grams), whose owner column is a copy; a copy that went wrong must not show a task."""
    more = len(ids) > page_size
    ids = ids[:page_size]
    if light:
        rows = [TaskRow(values) for values in select_values(Task, TaskRow.__slots__[:-1], equal={"user": user},
                                                             within={"id": ids})]
    else:
        rows = select_rows(Task, equal={"user": user}, within={"id": ids})  # plain SQL: read on every history page
    if with_files:
        _attach_files(user, rows)
    by_id = {row.pk: row for row in rows}
    return TaskPage(rows=[by_id[i] for i in ids if i in by_id], count=count, page=page, page_size=page_size,
                    exact=exact, more=more)


def task_iter(*, user, filters: dict | None = None, fields: tuple[str, ...], chunk_size: int = 2000):
    """Yield value tuples of ``task_list`` in order, reading keyset chunks of ``chunk_size`` rows.

    Memory stays flat on every database: MySQL client libraries buffer a whole result set, so
    a single ``.iterator()`` over 100,000 rows would not; each chunk is one short index walk.
    """
    filters = filters or {}
    keys = order_keys(filters.get("ordering") or DEFAULT_ORDERING)
    key_fields = [field for field, _desc in keys]
    base = _filtered(user=user, filters=filters).order_by(*_order_by(keys))
    columns = tuple(dict.fromkeys((*fields, *key_fields)))
    positions = [columns.index(f) for f in fields]
    key_positions = [columns.index(f) for f in key_fields]
    after = None
    while True:
        qs = base.filter(_after(keys, after)) if after is not None else base
        chunk = list(qs.values_list(*columns)[:chunk_size])
        for row in chunk:
            yield tuple(row[p] for p in positions)
        if len(chunk) < chunk_size:
            return
        after = tuple(chunk[-1][p] for p in key_positions)


def _after(keys, values) -> Q:
    """Rows strictly after ``values`` in the ordering ``keys`` (NULL sorts first, as on MariaDB and SQLite)."""
    condition = Q(pk__in=[])
    equal = Q()
    for (field, desc), value in zip(keys, values):
        nullable = field in _NULLABLE
        if value is None:
            later = Q(pk__in=[]) if desc else Q(**{f"{field}__isnull": False})
            equal_here = Q(**{f"{field}__isnull": True})
        else:
            later = Q(**{f"{field}__{'lt' if desc else 'gt'}": value})
            if nullable and desc:
                later |= Q(**{f"{field}__isnull": True})
            equal_here = Q(**{field: value})
        condition |= equal & later
        equal &= equal_here
    return condition


def task_get(*, user, task_id) -> Task | None:
    """One of the user's tasks with its files, or None (also for another user's task: callers answer 404).

    Plain SQL (core.raw_sql): every task page, modal and action reads a task this way, and the ORM's
    query composition cost twenty times the database's answer.
    """
    rows = select_rows(Task, equal={"user": user, "id": task_id})
    if not rows:
        return None
    _attach_files(user, rows)
    return rows[0]


def task_files_of(*, user, tasks) -> dict:
    """{task id: [its TaskFile rows]} for the user's ``tasks`` (instances read for this user); each file's
    ``task`` is that instance. One plain-SQL query."""
    tasks = [task for task in tasks if task.user_id == user.pk]
    found = {task.pk: [] for task in tasks}
    by_id = {task.pk: task for task in tasks}
    for task_file in select_rows(TaskFile, within={"task": list(found)}):
        _FILE_TASK.set_cached_value(task_file, by_id[task_file.task_id])
        found[task_file.task_id].append(task_file)
    return found


_FILE_TASK = TaskFile._meta.get_field("task")


class FileName(NamedTuple):
    """A task file as the history table links it (``kind`` and ``name`` read as a TaskFile has them)."""

    kind: str
    name: str


def task_file_names_of(*, user, tasks) -> dict:
    """{task id: [FileName of each of its files]} for the user's ``tasks``: what a history row shows of them.

    One plain-SQL query of two columns and no instances: making a page's fifty TaskFile instances was a
    tenth of the history page's CPU.
    """
    found = {task.pk: [] for task in tasks if task.user_id == user.pk}
    for task_id, kind, name in select_values(TaskFile, ("task", "kind", "name"), within={"task": list(found)}):
        found[task_id].append(FileName(kind, name))
    return found


def _attach_files(user, tasks) -> None:
    """What prefetch_related("files") leaves on each task, read by task_files_of (one plain-SQL query):
    task.files.all() answers from these rows, a filter() queries."""
    files = task_files_of(user=user, tasks=tasks)
    for task in tasks:
        # The filter is kept, not composed (as Django's related managers do): a task page never chains
        # onto it, and composing it was a tenth of the page's view.
        cached = TaskFile.objects.all()
        cached._defer_next_filter = True
        cached = cached.filter(task=task)
        cached._result_cache, cached._prefetch_done = files[task.pk], True
        task._prefetched_objects_cache = {"files": cached}


def task_get_or_404(*, user, task_id) -> Task:
    """One of the user's tasks; another user's task is NotFound exactly like an unknown id (pages and API)."""
    task = task_get(user=user, task_id=task_id)
    if task is None:
        raise NotFound("No such task.")
    return task


def task_get_many(*, user, task_ids) -> list[Task]:
    """The user's tasks among ``task_ids`` (others' ids and unknown ids are left out), newest first."""
    return list(Task.objects.filter(user=user, pk__in=list(task_ids)).prefetch_related("files").order_by("-created_at"))


def task_active_count(*, user) -> int:
    return Task.objects.filter(user=user, status__in=Task.ACTIVE_STATUSES).count()


def task_file_get(*, user, task_id, kind) -> TaskFile | None:
    """The user's task's file of ``kind`` with its ``task``, or None (plain SQL, one query: every download reads it)."""
    found = select_with_parent(TaskFile, "task", equal={"kind": kind}, parent_equal={"id": task_id, "user": user})
    if not found:
        return None
    task_file, task = found[0]
    _FILE_TASK.set_cached_value(task_file, task)
    return task_file


def _percentile_nearest_rank(qs: QuerySet[Task], field: str, count: int, percent: float):
    """The nearest-rank percentile of ``field`` over its ``count`` non-null values in ``qs``: one row.

    Read from the top of the index, so p95 skips 5 % of the rows, not 95 %.
    """
    if not count:
        return None
    rank = max(1, math.ceil(percent / 100 * count))  # 1-based, ascending
    return (qs.filter(**{f"{field}__isnull": False}).order_by(f"-{field}")
            .values_list(field, flat=True)[count - rank])


def _status_groups(qs: QuerySet[Task]) -> dict:
    """{status: {n, pages, seconds, timed}} in one query.

    Read in the order of task_user_status_stats_idx: the explicit list of statuses turns a date
    range into one index range per status, and grouping needs no temporary table (a third of
    the time of CASE expressions over the same 100,000 rows).
    """
    rows = qs.filter(status__in=Task.Status.values).values("status").annotate(
        n=Count("pk"), pages=Sum("page_count"), seconds=Sum("processing_seconds"), timed=Count("processing_seconds"))
    return {row["status"]: row for row in rows}


def _whole_hours(*moments) -> bool:
    """True when every moment falls on a whole UTC hour: then TaskHourSummary's hours add up exactly."""
    for moment in moments:
        utc = moment.astimezone(dt_timezone.utc)
        if utc.minute or utc.second or utc.microsecond:
            return False
    return True


def _hour_rows(*, user, start: datetime | None, end: datetime | None, statuses=None) -> QuerySet:
    """The user's TaskHourSummary rows created in [start, end) (whole UTC hours; None: open)."""
    qs = TaskHourSummary.objects.filter(user=user, tasks__gt=0)
    if statuses is not None:
        qs = qs.filter(status__in=list(statuses))
    if start is not None:
        qs = qs.filter(hour__gte=start)
    if end is not None:
        qs = qs.filter(hour__lt=end)
    return qs.order_by()


def _status_groups_by_hour(*, user, start, end) -> dict:
    """Like ``_status_groups``, added up from TaskHourSummary (at most 24 rows per day and status)."""
    rows = (_hour_rows(user=user, start=start, end=end).values("status")
            .annotate(n=Sum("tasks"), pages=Sum("pages"), seconds=Sum("seconds"), timed=Sum("timed")))
    return {row["status"]: {**row, "seconds": row["seconds"] if row["timed"] else None} for row in rows}


def task_stats(*, user, filters: dict | None = None, today: date | None = None, days: int = 30) -> dict:
    """The user's figures over the date range of ``filters`` (other filters are ignored).

    pages_processed, avg and p95 processing time cover completed tasks; success_rate is
    completed / (completed + failed); storage_bytes counts every file of the tasks in range.
    """
    filters = filters or {}
    date_filters = {"created_from": filters.get("created_from"), "created_to": filters.get("created_to")}
    qs = _filtered(user=user, filters=date_filters).order_by()
    # All time: the maintained summary (five rows) instead of aggregating every task of the user;
    # a date range: the hourly summary when the range is whole UTC hours, else the tasks themselves.
    start, end = date_bounds(date_filters)
    if start is None and end is None:
        groups = task_summary(user=user)
    elif _whole_hours(*(bound for bound in (start, end) if bound is not None)):
        groups = _status_groups_by_hour(user=user, start=start, end=end)
    else:
        groups = _status_groups(qs)
    by_status = {s: groups[s]["n"] if s in groups else 0 for s in Task.Status.values}
    done = groups.get(Task.Status.COMPLETED, {"pages": 0, "seconds": None, "timed": 0})
    average = done["seconds"] / done["timed"] if done["timed"] else None
    finished = by_status["completed"] + by_status["failed"]
    storage = task_storage_bytes(user=user, filters=date_filters)
    p95 = _percentile_nearest_rank(qs.filter(status=Task.Status.COMPLETED), "processing_seconds", done["timed"], 95)
    return {
        "total": sum(by_status.values()),
        "by_status": by_status,
        "pages_processed": done["pages"] or 0,
        "avg_processing_seconds": round(average, 3) if average is not None else None,
        "p95_processing_seconds": round(p95, 3) if p95 is not None else None,
        "success_rate": round(by_status["completed"] / finished, 4) if finished else None,
        "storage_bytes": storage or 0,
        "daily": task_daily(user=user, end=filters.get("created_to") or today or timezone.localdate(),
                            start=filters.get("created_from"), days=days),
    }


def task_storage_bytes(*, user, filters: dict | None = None) -> int:
    """Bytes of every file of the user's tasks created in the date range (tasks.models.TaskStorage)."""
    filters = filters or {}
    if not filters.get("created_from") and not filters.get("created_to"):  # all time: one maintained row
        return UserStorage.objects.filter(user=user).values_list("bytes", flat=True).first() or 0
    return in_date_range(TaskStorage.objects.filter(user=user), filters).aggregate(n=Sum("bytes"))["n"] or 0


def task_daily(*, user, end: date, start: date | None = None, days: int = 30) -> list[dict]:
    """Completed and failed tasks per day (by creation, in TIME_ZONE) for ``days`` days up to ``end``.

    Every day is listed, zeros included. The day boundaries are computed here, so it is exact
    across daylight-saving changes and needs no time-zone tables in the database. Where every
    boundary is a whole UTC hour (any zone with whole-hour offsets), the counts are the
    TaskHourSummary rows of those hours (24 per day and status at most); elsewhere
    the tasks are bucketed in one query.
    """
    first = end - timedelta(days=days - 1)
    if start and start > first:
        first = start
    if first > end:
        return []
    n = (end - first).days + 1
    bounds = [day_start(first + timedelta(days=i)) for i in range(n + 1)]
    series = [{"date": first + timedelta(days=i), "completed": 0, "failed": 0} for i in range(n)]
    statuses = (Task.Status.COMPLETED, Task.Status.FAILED)
    if _whole_hours(*bounds):  # every day is whole UTC hours: add up the hourly summary's rows
        hours = _hour_rows(user=user, start=bounds[0], end=bounds[-1], statuses=statuses)
        for hour, status, count in hours.values_list("hour", "status", "tasks"):
            series[bisect.bisect_right(bounds, hour) - 1][status] += count
        return series
    day = _day_index(bounds, 0, n)
    rows = (Task.objects.filter(user=user, status__in=statuses, created_at__gte=bounds[0], created_at__lt=bounds[-1])
            .annotate(day=day).values("day", "status").annotate(n=Count("pk")).order_by())
    for row in rows:
        series[row["day"]][row["status"]] = row["n"]
    return series


def _day_index(bounds, low: int, high: int):
    """A CASE that maps created_at to its day number by halving [low, high): ~5 comparisons a row, not 30."""
    if high - low == 1:
        return Value(low)
    middle = (low + high) // 2
    return Case(When(created_at__lt=bounds[middle], then=_day_index(bounds, low, middle)),
                default=_day_index(bounds, middle, high), output_field=IntegerField())


def task_brief_stats(*, user) -> dict:
    """The few figures of the user menu: totals by status and pages processed, in one query."""
    groups = task_summary(user=user)
    count = {status: groups[status]["n"] if status in groups else 0 for status in Task.Status.values}
    completed = groups.get(Task.Status.COMPLETED, {})
    return {"total": sum(count.values()), "completed": count["completed"], "failed": count["failed"],
            "active": count["pending"] + count["processing"], "pages": completed.get("pages") or 0}


def task_badge_state(*, user, active_limit: int = 50, finished_within_seconds: int = 300) -> dict:
    """The header badge: how many tasks wait or run, which (id, file name), and which finished lately.

    The browser compares two answers: a task that left ``active`` and shows up in ``finished``
    finished while the page was open, so the tab title and an opted-in notification can name it.
    Plain SQL: every page shows the badge, and the ORM spent more CPU composing these two index
    reads (task_user_status_created_idx, task_user_completed_idx) than the database spent on them.
    One statement (UNION ALL of the two reads, each with its own order and limit): on MariaDB a round
    trip through mysqlclient costs the web process more than either read.
    """
    table, user_id = connection.ops.quote_name(Task._meta.db_table), int(user.pk)
    since = connection.ops.adapt_datetimefield_value(timezone.now() - timedelta(seconds=finished_within_seconds))
    with connection.cursor() as cursor:
        cursor.execute(_BADGE_SQL.format(table=table),
                       [user_id, *map(str, Task.ACTIVE_STATUSES), active_limit,
                        user_id, *map(str, Task.FINISHED_STATUSES), since])
        rows = cursor.fetchall()
    # The union's order is not guaranteed: each part is put back in its own (stable sorts: ties as read).
    active = sorted((row for row in rows if row[0] == 0), key=_at)
    finished = sorted((row for row in rows if row[0] == 1), key=_at, reverse=True)
    active = [{"id": str(uuid.UUID(str(pk))), "name": name} for _part, _time, pk, name, _status in active]
    finished = [{"id": str(uuid.UUID(str(pk))), "name": name, "status": status}
                for _part, _time, pk, name, status in finished]
    count = len(active) if len(active) < active_limit else task_active_count(user=user)
    return {"count": count, "active": active, "finished": finished}


# Part 0: the active tasks, oldest first (up to a limit); part 1: those finished since a time, newest first.
_BADGE_SQL = ("SELECT * FROM (SELECT 0 AS part, created_at AS at, id, filename, NULL AS status FROM {table} "
              "WHERE user_id = %s AND status IN (%s, %s) ORDER BY created_at LIMIT %s) a "
              "UNION ALL "
              "SELECT * FROM (SELECT 1 AS part, completed_at AS at, id, filename, status FROM {table} "
              "WHERE user_id = %s AND status IN (%s, %s, %s) AND completed_at >= %s "
              "ORDER BY completed_at DESC LIMIT 20) f")


def _at(row):
    return row[1]  # a datetime (MariaDB) or ISO text (SQLite): either orders as time does


def last_language(*, user) -> str | None:
    """The language of the user's newest task: the upload form offers it again."""
    return (Task.objects.filter(user=user).order_by("-created_at").values_list("language", flat=True).first())
