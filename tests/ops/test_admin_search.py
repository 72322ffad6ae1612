"""The admin's file-name search: found through the FULLTEXT index on MariaDB, same answers as LIKE."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db(transaction=True)

NAMES = ["invoice-20260601-10741.png", "invoice-20260601-20741.png", "letter-20260601-10799.pdf",
         "Scan ab.png", "contract final.pdf"]


@pytest.fixture
def tasks(user_a, make_task):
    return {name: make_task(user_a, filename=name, results=False) for name in NAMES}


def _found(staff_client, term):
    page = staff_client.get("/admin/tasks/task/", {"q": term}).content.decode()
    return sorted(name for name in NAMES if name in page)


@pytest.mark.parametrize("term, expected", [
    ("20260601-107", ["invoice-20260601-10741.png", "letter-20260601-10799.pdf"]),
    ("INVOICE-20260601-2", ["invoice-20260601-20741.png"]),
    ("invoice 10741", ["invoice-20260601-10741.png"]),  # each part, anywhere in the name
    ("letter 20741", []),
    ("contract final", ["contract final.pdf"]),
    ("ab", ["Scan ab.png"]),  # too short for the index: the plain scan
    ("no-such-name", []),
    ("contr", ["contract final.pdf"]),  # a word start
])
def test_search_finds_what_the_substring_match_finds(staff_client, tasks, term, expected):
    assert _found(staff_client, term) == expected


def test_on_mariadb_the_index_is_used(staff_client, tasks):
    if connection.vendor != "mysql":
        pytest.skip("the FULLTEXT index is MariaDB/MySQL only; SQLite scans")
    with CaptureQueriesContext(connection) as queries:
        staff_client.get("/admin/tasks/task/", {"q": "20260601-107"})
    assert any("MATCH (" in q["sql"] and "AGAINST" in q["sql"] for q in queries.captured_queries)


def test_on_mariadb_a_common_term_skips_the_index_and_finds_the_same(staff_client, user_a, make_task, monkeypatch):
    """A term a sample says is common goes straight to LIKE over the newest rows; a rare one through the index."""
    if connection.vendor != "mysql":
        pytest.skip("the FULLTEXT index is MariaDB/MySQL only; SQLite scans")
    monkeypatch.setattr("tasks.admin.FULLTEXT_MAX_MATCHES", 5)
    for i in range(8):
        make_task(user_a, filename=f"invoice-2026-{i}.png", results=False)
    make_task(user_a, filename="letter-2026-1.png", results=False)
    for term, expected, index in (("invoice", 8, False), ("letter", 1, True)):
        with CaptureQueriesContext(connection) as queries:
            page = staff_client.get("/admin/tasks/task/", {"q": term}).content.decode()
        assert len(set(re.findall(rf"{term}-2026-\d\.png", page))) == expected
        assert any("AGAINST" in q["sql"] for q in queries.captured_queries) == index
