"""TaskSummary (kept by triggers) equals GROUP BY user, status after every kind of write, on both databases."""

from datetime import timedelta, timezone as dt_timezone

import pytest
from django.db.models import Count, Sum
from django.utils import timezone

from core.audit import SYSTEM
from tasks import selectors, services
from tasks.maintenance import cleanup
from tasks.models import Task, TaskHourSummary, TaskSummary
from tasks.pipeline import transitions
from tests.tasks.history.test_storage import _complete
from tests.tasks.history_helpers import make_task, png_upload, task_summary_rebuild
from tests.tasks.pipeline_helpers import task_create

pytestmark = pytest.mark.django_db


def _grouped():
    rows = Task.objects.order_by().values("user_id", "status").annotate(
        n=Count("pk"), pages=Sum("page_count"), seconds=Sum("processing_seconds"), timed=Count("processing_seconds"))
    return {(r["user_id"], r["status"]): (r["n"], r["pages"], round(r["seconds"] or 0, 6), r["timed"]) for r in rows}


def _storage_sums():
    from tasks.models import TaskStorage, UserStorage

    grouped = {r["user_id"]: r["b"] for r in TaskStorage.objects.order_by().values("user_id").annotate(b=Sum("bytes"))}
    kept = {r.user_id: r.bytes for r in UserStorage.objects.all() if r.bytes}
    return grouped, kept


def _summary():
    return {(r.user_id, r.status): (r.tasks, r.pages, round(r.seconds, 6), r.timed)
            for r in TaskSummary.objects.all() if r.tasks}


def _grouped_by_hour():
    """GROUP BY user, UTC hour of creation, status, worked out in Python from the rows."""
    out = {}
    for task in Task.objects.all():
        hour = task.created_at.astimezone(dt_timezone.utc).replace(minute=0, second=0, microsecond=0)
        n, pages, seconds, timed = out.get((task.user_id, hour, task.status), (0, 0, 0.0, 0))
        out[(task.user_id, hour, task.status)] = (
            n + 1, pages + task.page_count, seconds + (task.processing_seconds or 0),
            timed + (task.processing_seconds is not None))
    return {key: (n, pages, round(seconds, 6), timed) for key, (n, pages, seconds, timed) in out.items()}


def _hour_summary():
    return {(r.user_id, r.hour, r.status): (r.tasks, r.pages, round(r.seconds, 6), r.timed)
            for r in TaskHourSummary.objects.all() if r.tasks}


def _both_match():
    return _summary() == _grouped() and _hour_summary() == _grouped_by_hour()


def test_summary_follows_every_write(user_a, user_b, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        done = _complete(task_create(user=user_a, uploaded_file=png_upload()))
        waiting = task_create(user=user_a, uploaded_file=png_upload("b.png"))
        services.task_cancel(actor=SYSTEM, task=waiting)
        services.task_retry(actor=SYSTEM, task=Task.objects.get(pk=waiting.pk))
        running = transitions.task_start(task_id=waiting.pk, worker_id="w")
        transitions.task_heartbeat(task=running, pages_done=1)
        transitions.task_fail(task=running, code="ocr_failed", message="stopped")
        Task.objects.filter(pk=done.pk).update(page_count=7, processing_seconds=3.5)  # SQL an operator might run
        old = make_task(user_b, status="completed", processing_seconds=2.25,
                        created_at=timezone.now() - timedelta(days=90))
        make_task(user_b, status="pending")
        make_task(user_a, status="completed", processing_seconds=1.25, created_at=timezone.now() - timedelta(hours=3))
        Task.objects.bulk_create([Task(user=user_b, filename=f"bulk{i}.png", status="failed", page_count=2)
                                  for i in range(5)])
        # created_at moved by hand into another hour (a repair, an import): the hourly row follows
        Task.objects.filter(pk=old.pk).update(created_at=old.created_at - timedelta(hours=5, minutes=30))
    moved = old.created_at.astimezone(dt_timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=5)
    assert len(_grouped_by_hour()) > len(_grouped())  # the hours really split the rows
    assert {(user_b.pk, moved, "completed"), (user_b.pk, moved - timedelta(hours=1), "completed")} & set(_hour_summary())
    assert _both_match()
    cleanup.cleanup_tasks(days=30)
    assert not Task.objects.filter(pk=old.pk).exists() and _both_match()
    with django_capture_on_commit_callbacks(execute=True):
        services.task_delete(actor=SYSTEM, task=Task.objects.get(pk=done.pk))
    assert _both_match()
    grouped, kept = _storage_sums()
    assert grouped == kept and grouped
    cleanup.purge_user(user=user_b)
    assert _both_match() and not TaskSummary.objects.filter(user_id=user_b.pk, tasks__gt=0).exists()
    assert not TaskHourSummary.objects.filter(user_id=user_b.pk, tasks__gt=0).exists()
    grouped, kept = _storage_sums()
    assert grouped == kept
    assert selectors.task_storage_bytes(user=user_a) == grouped.get(user_a.pk, 0)


def test_all_time_stats_and_counts_from_the_summary_equal_the_full_aggregate(user_a):
    for i, status in enumerate(["completed", "completed", "failed", "cancelled", "pending", "processing"] * 3):
        make_task(user_a, status=status, page_count=i + 1, processing_seconds=0.5 + i)
    from_summary = selectors.task_stats(user=user_a, filters={})
    far_past = timezone.localdate() - timedelta(days=3650)
    aggregated = selectors.task_stats(user=user_a, filters={"created_from": far_past})
    assert {k: v for k, v in from_summary.items() if k != "daily"} == \
        {k: v for k, v in aggregated.items() if k != "daily"}
    assert selectors.task_brief_stats(user=user_a)["total"] == 18
    page = selectors.task_page(user=user_a, filters={"status": ["completed", "failed"]}, page=1, page_size=5)
    assert page.count == 9 and page.exact


def test_rebuild_recounts_from_the_tasks(user_a):
    make_task(user_a, status="completed", processing_seconds=1.0)
    make_task(user_a, status="failed", processing_seconds=2.0, created_at=timezone.now() - timedelta(hours=30))
    make_task(user_a, status="pending", created_at=timezone.now() - timedelta(days=3, minutes=7))
    TaskSummary.objects.all().delete()
    TaskHourSummary.objects.all().delete()
    assert _summary() == {} and _hour_summary() == {}
    task_summary_rebuild()
    assert _summary() == _grouped() and _hour_summary() == _grouped_by_hour() and len(_hour_summary()) == 3


@pytest.mark.parametrize("ordering", ["-created_at", "created_at", "filename", "-filename", "status",
                                      "-processing_seconds"])
def test_deep_pages_read_from_the_far_end_give_the_same_rows(user_a, ordering):
    now = timezone.now()
    for i in range(23):
        make_task(user_a, filename=f"f{(i * 7) % 23:02d}.png", status=["completed", "failed", "pending"][i % 3],
                  created_at=now - timedelta(minutes=i), processing_seconds=None if i % 4 == 0 else float(i % 5))
    expected = [t.id for t in selectors.task_list(user=user_a, filters={"ordering": ordering})]
    seen = []
    for number in range(1, 6):
        page = selectors.task_page(user=user_a, filters={"ordering": ordering}, page=number, page_size=5)
        seen += [t.id for t in page.rows]
        assert page.has_next == (number < 5)
    assert seen == expected
    capped = selectors.task_page(user=user_a, filters={"ordering": ordering}, page=5, page_size=5, count_limit=8,
                                 clamp=True)
    assert [t.id for t in capped.rows] == expected[20:] and capped.exact and not capped.has_next
