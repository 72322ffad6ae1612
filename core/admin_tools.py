"""Admin building blocks that keep change lists fast on tables with millions of rows.

* ``LargeTablePaginator``: never runs an unbounded COUNT(*). It counts at most ``cap`` + 1
  rows; beyond that it takes the server's table estimate (MySQL/MariaDB, unfiltered lists)
  or reports the cap, and the page says "more than". Deep pages read their ids from the
  ordering's index before the rows.
* ``InputFilter``: a text box in the filter sidebar, for filters (a user's email) whose
  choices would otherwise be one row per user.
* ``FastListMixin``: the settings every big list wants: no full count, no facet counts.
"""

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils.functional import cached_property


def table_row_estimate(queryset) -> int | None:
    """The server's estimate of the table's rows (MySQL/MariaDB only), or None."""
    connection = connections[queryset.db]
    if connection.vendor != "mysql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
                       "AND TABLE_NAME = %s", [queryset.model._meta.db_table])
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else None


class LargeTablePaginator(Paginator):
    # Counting stops here ("more than 1000"): a filter that keeps one row in 16 (a common word in
    # file names) costs 16,000 rows read for 1,000 matches; at 10,000 it was 160,000 (benchmarks/admin_scale.py).
    cap = 1_000
    deep = 1_000  # from this offset on, a page reads its ids from the index first, then only its rows

    @cached_property
    def count(self):
        queryset = self.object_list
        if not hasattr(queryset, "query"):
            return len(queryset)
        counted = queryset.order_by()[: self.cap + 1].count()  # COUNT over a LIMITed subquery: bounded work
        if counted <= self.cap:
            self.count_is_estimate = False
            return counted
        self.count_is_estimate = True
        estimate = table_row_estimate(queryset) if not queryset.query.where else None
        return max(estimate or 0, self.cap)

    count_is_estimate = False

    def page(self, number):
        """A filtered list with few matches is sorted after filtering, not by walking the date index.

        With ``ORDER BY created_at DESC LIMIT 100`` and a filter on a column without an index
        (engine, a rare search term), MariaDB walks the whole created_at index looking for 100
        matches: a million row look-ups. When the bounded count says the matches are few,
        the same order written as ``COALESCE(created_at, created_at) DESC`` makes it filter first
        (by an index where there is one) and sort the few rows it found. (Django drops a
        ``nulls_last`` on MySQL DESC, so that cannot serve.)
        """
        number = self.validate_number(number)
        queryset = self.object_list
        if not self.count_is_estimate and hasattr(queryset, "query") and queryset.query.where:
            self.object_list = sort_after_filtering(queryset)
        page = super().page(number)
        if hasattr(page.object_list, "query") and (number - 1) * self.per_page >= self.deep:
            page.object_list = rows_by_ids(self.object_list, page.object_list)
        return page


def rows_by_ids(queryset, sliced) -> list:
    """The rows of a deep page: its ids first, then those rows only, in the page's order.

    ``ORDER BY created_at DESC LIMIT 100 OFFSET 4900`` reads 5,000 whole rows through the index
    and throws 4,900 away; the ids alone come from the (created_at, id) index without a row read.
    """
    ids = list(sliced.values_list("pk", flat=True))
    by_pk = {row.pk: row for row in queryset.order_by().filter(pk__in=ids)}
    return [by_pk[pk] for pk in ids if pk in by_pk]


def sort_after_filtering(queryset):
    """The same order, with the first column wrapped so no index can deliver it (the rows are sorted instead)."""
    terms = list(queryset.query.order_by or queryset.model._meta.ordering)
    if not terms or not isinstance(terms[0], str) or terms[0] == "?":
        return queryset
    name = terms[0].lstrip("-")
    first = Coalesce(F(name), F(name))
    terms[0] = first.desc() if terms[0].startswith("-") else first.asc()
    return queryset.order_by(*terms)


class InputFilter(admin.SimpleListFilter):
    """A filter typed in rather than picked from a list."""

    template = "admin/input_filter.html"
    placeholder = ""

    def lookups(self, request, model_admin):
        return ((None, None),)  # one dummy choice so the filter is shown

    def choices(self, changelist):
        keep = []
        for key, values in changelist.get_filters_params().items():
            if key == self.parameter_name:
                continue
            for value in values if isinstance(values, list) else [values]:
                keep.append((key, value))
        yield {"query_parts": keep, "placeholder": self.placeholder, "value": self.value() or ""}


class UserEmailFilter(InputFilter):
    """Exact email (case-insensitive, the stored form) or numeric user id; the lookup path is set per model."""

    title = "user (email or id)"
    parameter_name = "user"
    placeholder = "name@example.com"
    user_field = "user"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if not value:
            return queryset
        if value.isdigit():
            return queryset.filter(**{f"{self.user_field}_id": int(value)})
        return queryset.filter(**{f"{self.user_field}__email": value.lower()})


class FastChangeList(ChangeList):
    """The primary-key tiebreak follows the first column's direction.

    Django appends ``-pk`` to make the order total; ``ORDER BY created_at ASC, id DESC`` cannot
    use the (created_at) index (InnoDB stores it as (created_at, id)) and sorts every row.
    """

    def get_ordering(self, request, queryset):
        ordering = list(super().get_ordering(request, queryset))
        pk_terms = {"pk", "-pk", self.lookup_opts.pk.name, "-" + self.lookup_opts.pk.name}
        if len(ordering) >= 2 and isinstance(ordering[0], str) and ordering[-1] in pk_terms:
            descending = ordering[0].startswith("-")
            ordering[-1] = ("-" if descending else "") + ordering[-1].lstrip("-")
        return ordering


class FastListMixin:
    paginator = LargeTablePaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    # Rendering a row costs more than reading it: Django's admin builds ~10 cells a row in Python
    # (~0.5 ms a row on a busy 2-core machine), so 100 rows were most of a list's time
    # (benchmarks/admin_scale.py).
    list_per_page = 50

    def get_changelist(self, request, **kwargs):
        return FastChangeList


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
