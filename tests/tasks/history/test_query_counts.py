"""How many queries the history's pages and the API's lists and statistics run: a few, and never more
for a bigger history (benchmarks/history_scale.py measures the same pages at a million tasks)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tasks.models import Task
from tests.tasks.history_helpers import generate_history, signed_in

pytestmark = pytest.mark.django_db

# (URL, most queries): 1 of them signs the request in (the session, its TokenSession row and its user,
# accounts/session_store.py) and 1 is the header badge's, on every page; the rest are the page's own.
PAGES = [
    ("/history/", 6),                       # summary count, ids, rows, files
    ("/history/?page=2&ordering=filename", 6),
    ("/history/?page=3", 6),                # the last page: read from the index's other end
    ("/history/?status=failed", 6),
    ("/history/?created_from={week_ago}", 6),   # a date range is counted (up to the cap) instead
    ("/history/stats/", 6),                 # summary, storage, p95, hours of the chart
    ("/history/stats/?created_from={week_ago}", 6),  # hours by status, storage, p95, hours of the chart
    ("/api/v1/tasks", 6),
    ("/api/v1/tasks?status=completed&page=2&page_size=5", 6),
    ("/api/v1/history/stats", 6),
]


def _queries(client, url) -> list[str]:
    client.get(url)  # warm: the first request of a session may write it
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return [q["sql"] for q in captured.captured_queries]


@pytest.mark.parametrize("url, most", PAGES, ids=[u for u, _ in PAGES])
def test_a_page_runs_a_few_queries_whatever_the_size_of_the_history(client, user_a, url, most):
    signed_in(client, user_a)
    url = url.format(week_ago=(timezone.localdate() - timedelta(days=7)).isoformat())
    generate_history(user_a, n=60, seed=3)
    small = _queries(client, url)
    generate_history(user_a, n=60, seed=4, days=5)  # twice the rows, more of them in the last week
    assert Task.objects.filter(user=user_a).count() == 120
    large = _queries(client, url)
    assert len(large) == len(small) <= most, "\n".join(large)
    assert any("_tasks" in sql for sql in large)  # the page really read something
