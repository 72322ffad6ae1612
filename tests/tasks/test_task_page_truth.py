"""task_page agrees with the ORM on what it lists and counts, on SQLite and MariaDB: the plain-SQL page ids of
a list by status (selectors._plain_page_ids) walk task_list's order, and a search (file-name index, two-character
prefix ranges, text index, the API's exact count) finds what ``filename__icontains`` or the text index finds,
never another person's task, odd characters included (case, accents, ß, ligatures, emoji, spaces, LIKE's own)."""

import random
from datetime import timedelta

import pytest
from django.db.models import Q
from django.utils import timezone

from tasks import selectors
from tasks.models import Task
from tests.tasks.history.test_text_index import text_task
from tests.tasks.history_helpers import make_task

pytestmark = pytest.mark.django_db

ALPH = list("abAB台北公室 %_.é")


def _truth(user, q, filters):
    texts = selectors.task_text_matches(user=user, q=q)
    qs = Task.objects.filter(user=user).filter(Q(filename__icontains=q) | Q(pk__in=texts))
    if filters.get("status"):
        qs = qs.filter(status__in=filters["status"])
    return set(qs.values_list("pk", flat=True))


@pytest.mark.parametrize("seed", [1, 2])
def test_random_searches_list_and_count_what_the_orm_finds(user_a, user_b, seed):
    rnd = random.Random(seed)
    now = timezone.now()
    for i in range(60):
        name = "".join(rnd.choice(ALPH) for _ in range(rnd.randint(1, 7))) + ".png"
        status = rnd.choice(["completed", "failed"])
        if rnd.random() < 0.5:
            text_task(user_a, " ".join(rnd.choice(["台北", "北京", "alpha", "ab", "abc", "公室"]) for _ in range(3)),
                      filename=name, created_at=now - timedelta(seconds=i), status=status)
        else:
            make_task(user_a, filename=name, created_at=now - timedelta(seconds=i), status=status)
        make_task(user_b, filename=name, created_at=now - timedelta(seconds=i))
    qs = {"台北", "北", "ab", "AB", "a", "b.", "g", ".p", "公室", "%_", "é", "E", "aB", "北京", "alpha", "abc", "png",
          "a ", " b", "b a", "室.", "ng"}
    for q in sorted(qs):
        for filters in ({}, {"status": ["failed"]}):
            truth = _truth(user_a, q, filters)
            for size in (1, 3, 200):
                page = selectors.task_page(user=user_a, filters={"q": q, **filters}, page_size=size)
                assert page.count == len(truth), (q, filters, size)
            rows = selectors.task_page(user=user_a, filters={"q": q, **filters}, page_size=200).rows
            assert {t.pk for t in rows} == truth, (q, filters)
            capped = selectors.task_page(user=user_a, filters={"q": q, **filters}, page_size=2, count_limit=5)
            assert capped.count == len(truth) if capped.exact else (capped.count == 5 and len(truth) > 5), (q, filters)


@pytest.mark.parametrize("ordering", ["-created_at", "created_at", "status", "-status", "filename", "-filename",
                                      "processing_seconds", "-processing_seconds"])
@pytest.mark.parametrize("status", [[], ["failed"], ["failed", "completed", "pending"]])
def test_pages_by_status_walk_the_orms_order(user_a, user_b, ordering, status):
    rnd = random.Random(3)
    now = timezone.now()
    for i in range(23):
        make_task(user_a, filename=rnd.choice(["a.png", "B.png", "b.png", "é.png"]),
                  status=rnd.choice(["completed", "failed", "pending", "processing"]),
                  created_at=now - timedelta(seconds=rnd.randint(0, 5)),  # ties: the id decides
                  processing_seconds=rnd.choice([None, 1.0, 2.0]))
        make_task(user_b, filename="a.png")
    filters = {"status": status, "ordering": ordering}
    expected = list(selectors.task_list(user=user_a, filters=filters).values_list("pk", flat=True))
    got = []
    for page in range(1, 7):
        p = selectors.task_page(user=user_a, filters=filters, page=page, page_size=4)
        got += [t.pk for t in p.rows]
        assert p.count == len(expected)
    assert got == expected

NAMES = ["ab", "a", "ab ", "xab  ", "straße", "STRASSE", "ﬁle", "file", "ＡＢ", "áb", "Ab", "a b", "b a", "ab\u0301c",
         "台北", "北", "x台北", "台北x", "a\\b", "a%b", "a_b", "😀😁", "x😀", "i\u0307x", "İx", "ae", "æ"]
QS = ["ab", "AB", "b ", " b", "ss", "ß", "SS", "fi", "ﬁ", "ＡＢ", "áb", "台北", "北", "\\b", "%b", "_b", "😀", "😀😁",
      "b\u0301", "ix", "İ", "ae", "æ", "ab ", "ab  ", "xab", "e", "le", "ile"]


@pytest.mark.parametrize("q", QS)
def test_odd_names_and_queries(user_a, user_b, q):
    now = timezone.now()
    for i, name in enumerate(NAMES):
        make_task(user_a, filename=name, created_at=now - timedelta(seconds=i))
        make_task(user_b, filename=name, created_at=now - timedelta(seconds=i))
    truth = set(Task.objects.filter(user=user_a, filename__icontains=q).values_list("pk", flat=True))
    page = selectors.task_page(user=user_a, filters={"q": q}, page_size=100)
    assert {t.pk for t in page.rows} == truth, q
    assert page.count == len(truth)
    assert selectors.task_page(user=user_a, filters={"q": q}, page_size=1).count == len(truth)
