"""Statistics equal figures worked out by hand, and the chart's geometry."""

import math
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from tasks import selectors
from tasks.web.charts import daily_chart
from tests.tasks.history_helpers import add_file, make_task, signed_in

pytestmark = pytest.mark.django_db


def _at(day, hour=12):
    return timezone.make_aware(datetime.combine(day, datetime.min.time()) + timedelta(hours=hour))


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def known_history(user_a, user_b, today):
    """20 completed (1..20 s, 1..20 pages), 5 failed, 3 cancelled, 2 pending; user B's must not count."""
    for i in range(1, 21):
        task = make_task(user_a, filename=f"done-{i}.png", status="completed", processing_seconds=float(i),
                         page_count=i, created_at=_at(today - timedelta(days=i % 4)))
        add_file(task, "original", b"x" * 100, "original.png", task.filename)
        add_file(task, "result_txt", b"y" * 10, "result.txt", "done.txt")
    for i in range(5):
        make_task(user_a, filename=f"bad-{i}.png", status="failed", processing_seconds=100.0, page_count=3,
                  created_at=_at(today - timedelta(days=1)))
    for i in range(3):
        make_task(user_a, filename=f"stop-{i}.png", status="cancelled", created_at=_at(today - timedelta(days=40)))
    for i in range(2):
        make_task(user_a, filename=f"wait-{i}.png", status="pending", created_at=_at(today))
    other = make_task(user_b, filename="other.png", status="completed", processing_seconds=999.0, page_count=99,
                      created_at=_at(today))
    add_file(other, "original", b"z" * 5000, "original.png", "other.png")


def test_all_time_figures_by_hand(known_history, user_a, today):
    stats = selectors.task_stats(user=user_a, today=today)
    assert stats["total"] == 30
    assert stats["by_status"] == {"pending": 2, "processing": 0, "completed": 20, "failed": 5, "cancelled": 3}
    assert stats["pages_processed"] == sum(range(1, 21)) == 210          # completed tasks' pages
    assert stats["avg_processing_seconds"] == pytest.approx(10.5)       # mean of 1..20 (completed only)
    assert stats["p95_processing_seconds"] == 19.0                      # nearest rank: ceil(0.95 * 20) = 19th
    assert stats["success_rate"] == pytest.approx(20 / 25)              # completed / (completed + failed)
    assert stats["storage_bytes"] == 20 * (100 + 10)                     # every file of the user's tasks
    assert len(stats["daily"]) == 30 and stats["daily"][-1]["date"] == today
    by_day = {d["date"]: (d["completed"], d["failed"]) for d in stats["daily"]}
    for back in range(4):
        completed = sum(1 for i in range(1, 21) if i % 4 == back)
        assert by_day[today - timedelta(days=back)] == (completed, 5 if back == 1 else 0)
    assert sum(c for c, _f in by_day.values()) == 20


def test_date_range_figures_by_hand(known_history, user_a, today):
    """Only the last two days: completed with i % 4 in (0, 1), the five failed, the two pending."""
    stats = selectors.task_stats(user=user_a, filters={"created_from": today - timedelta(days=1), "created_to": today},
                                 today=today)
    seconds = sorted(float(i) for i in range(1, 21) if i % 4 in (0, 1))
    assert stats["by_status"]["completed"] == len(seconds) == 10
    assert stats["total"] == 10 + 5 + 2
    assert stats["avg_processing_seconds"] == pytest.approx(sum(seconds) / len(seconds))
    assert stats["p95_processing_seconds"] == seconds[math.ceil(0.95 * len(seconds)) - 1]
    assert stats["pages_processed"] == sum(int(s) for s in seconds)
    assert stats["success_rate"] == pytest.approx(10 / 15, abs=1e-4)
    assert stats["storage_bytes"] == 10 * 110
    assert [d["date"] for d in stats["daily"]] == [today - timedelta(days=1), today]


def test_empty_range_has_no_rates(user_a, today):
    stats = selectors.task_stats(user=user_a, today=today)
    assert stats["total"] == 0 and stats["success_rate"] is None
    assert stats["avg_processing_seconds"] is None and stats["p95_processing_seconds"] is None
    assert stats["storage_bytes"] == 0 and all(d["completed"] == d["failed"] == 0 for d in stats["daily"])


def test_p95_of_a_single_task_is_that_task(user_a, today):
    make_task(user_a, status="completed", processing_seconds=7.25)
    assert selectors.task_stats(user=user_a, today=today)["p95_processing_seconds"] == 7.25


def test_stats_page_and_api_show_the_same_figures(client, known_history, user_a, today):
    signed_in(client, user_a)
    api = client.get("/api/v1/history/stats").json()
    assert api["total"] == 30 and api["p95_processing_seconds"] == 19.0 and api["success_rate"] == 0.8
    assert api["daily"][-1] == {"date": today.isoformat(), "completed": sum(1 for i in range(1, 21) if i % 4 == 0),
                                "failed": 0}
    page = client.get("/history/stats/").content.decode()
    assert 'data-testid="stat-total">30<' in page
    assert 'data-testid="stat-success-rate">80.0 %<' in page
    assert 'data-testid="stat-p95">19.0 s<' in page
    assert 'data-testid="stat-pages">210<' in page
    assert page.count('<g data-date="') == 30 and "<svg" in page


def test_api_stats_validates_the_range(client, user_a):
    signed_in(client, user_a)
    response = client.get("/api/v1/history/stats?created_from=2025-02-01&created_to=2025-01-01")
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"created_to": "The 'From' date must be on or before the 'To' date."}


def test_chart_bars_scale_to_a_round_maximum(today):
    daily = [{"date": today - timedelta(days=2 - i), "completed": c, "failed": f}
             for i, (c, f) in enumerate([(0, 0), (30, 7), (3, 0)])]
    chart = daily_chart(daily)
    assert chart["max"] == 50  # 37 rounded up to 1, 2, 5 x 10^n
    plot_height = chart["baseline"] - chart["top"]
    middle = chart["bars"][1]
    assert middle["done_h"] == pytest.approx(plot_height * 30 / 50, abs=0.01)
    assert middle["failed_h"] == pytest.approx(plot_height * 7 / 50, abs=0.01)
    assert middle["failed_y"] + middle["failed_h"] == pytest.approx(middle["done_y"], abs=0.02)  # stacked
    assert chart["bars"][0]["done_h"] == 0 and chart["total_completed"] == 33 and chart["total_failed"] == 7


def test_days_follow_the_site_time_zone_across_daylight_saving(settings, user_a):
    """Berlin, 30 March 2025 has 23 hours: both ends of it count for that day, not the next or the one before."""
    settings.TIME_ZONE = "Europe/Berlin"
    tz = timezone.get_current_timezone()
    from datetime import date, datetime as dt

    for moment, status in ((dt(2025, 3, 29, 23, 59), "failed"), (dt(2025, 3, 30, 0, 30), "completed"),
                           (dt(2025, 3, 30, 23, 30), "completed"), (dt(2025, 3, 31, 0, 1), "failed")):
        make_task(user_a, status=status, created_at=timezone.make_aware(moment, tz))
    daily = selectors.task_daily(user=user_a, end=date(2025, 3, 31), days=3)
    assert daily == [{"date": date(2025, 3, 29), "completed": 0, "failed": 1},
                     {"date": date(2025, 3, 30), "completed": 2, "failed": 0},
                     {"date": date(2025, 3, 31), "completed": 0, "failed": 1}]


def _tasks_queries(captured) -> list[str]:
    """The captured queries that read the tasks table itself (not the summaries)."""
    from tasks.models import Task

    table = Task._meta.db_table
    return [q["sql"] for q in captured if f'"{table}"' in q["sql"] or f"`{table}`" in q["sql"]]


def test_days_of_a_half_hour_zone_are_counted_from_the_tasks(settings, user_a):
    """Kolkata is UTC+5:30: 23:45 and 00:15 there share one UTC hour but not one day, so the hours cannot serve."""
    from datetime import date, datetime as dt

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.TIME_ZONE = "Asia/Kolkata"
    tz = timezone.get_current_timezone()
    for moment, status in ((dt(2025, 3, 29, 23, 45), "failed"), (dt(2025, 3, 30, 0, 15), "completed"),
                           (dt(2025, 3, 30, 23, 50), "completed"), (dt(2025, 3, 31, 0, 10), "failed")):
        make_task(user_a, status=status, processing_seconds=2.0, created_at=timezone.make_aware(moment, tz))
    with CaptureQueriesContext(connection) as captured:
        daily = selectors.task_daily(user=user_a, end=date(2025, 3, 31), days=3)
    assert daily == [{"date": date(2025, 3, 29), "completed": 0, "failed": 1},
                     {"date": date(2025, 3, 30), "completed": 2, "failed": 0},
                     {"date": date(2025, 3, 31), "completed": 0, "failed": 1}]
    assert len(_tasks_queries(captured.captured_queries)) == 1
    one_day = selectors.task_stats(user=user_a, filters={"created_from": date(2025, 3, 30),
                                                         "created_to": date(2025, 3, 30)}, today=date(2025, 3, 31))
    assert one_day["by_status"]["completed"] == 2 and one_day["by_status"]["failed"] == 0 and one_day["total"] == 2


def test_date_ranges_from_the_hours_equal_the_figures_from_the_tasks(settings, user_a, user_b, monkeypatch):
    """Berlin (whole-hour offsets, a daylight-saving change inside): the hourly summary and the tasks agree."""
    from datetime import date

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.tasks.history_helpers import generate_history

    settings.TIME_ZONE = "Europe/Berlin"
    generate_history(user_a, n=90, seed=5, days=60)
    generate_history(user_b, n=20, seed=6, days=60)  # someone else's: never counted
    today = timezone.localdate()
    ranges = [{}, {"created_from": today - timedelta(days=6)}, {"created_to": today - timedelta(days=20)},
              {"created_from": today - timedelta(days=45), "created_to": today - timedelta(days=3)},
              {"created_from": date(2000, 1, 1), "created_to": today}]
    with CaptureQueriesContext(connection) as captured:
        from_hours = [selectors.task_stats(user=user_a, filters=f, today=today) for f in ranges]
        long_chart = selectors.task_daily(user=user_a, end=today, days=60)
    # Only the p95 of a range reads tasks (one row, from the top of an index); counts and days come from the hours.
    assert all("processing_seconds" in sql and "ORDER BY" in sql for sql in _tasks_queries(captured.captured_queries))
    monkeypatch.setattr(selectors, "_whole_hours", lambda *moments: False)
    from_tasks = [selectors.task_stats(user=user_a, filters=f, today=today) for f in ranges]
    assert from_hours == from_tasks
    assert long_chart == selectors.task_daily(user=user_a, end=today, days=60)
    assert sum(d["completed"] + d["failed"] for d in long_chart) > 20  # the data really fills the chart
