"""TaskStorage stays equal to the sum of each task's files through the real services."""

import pytest
from django.core.files.base import ContentFile
from django.db.models import Sum

from core.audit import SYSTEM
from tasks import selectors, services
from tasks.maintenance.cleanup import Outcome, missing_file_rows_delete
from tasks.models import Task, TaskFile, TaskStorage
from tasks.pipeline import transitions
from tests.tasks.history_helpers import png_bytes, png_upload, task_storage_rebuild
from tests.tasks.pipeline_helpers import task_create

pytestmark = pytest.mark.django_db


def _files_sum(task_id) -> int:
    return TaskFile.objects.filter(task_id=task_id).aggregate(n=Sum("size_bytes"))["n"] or 0


def _stored(task_id):
    row = TaskStorage.objects.filter(task_id=task_id).first()
    return None if row is None else row.bytes


def _complete(task):
    task = transitions.task_start(task_id=task.id, worker_id="test")
    transitions.task_complete(task=task, results={
        "result_txt": ("scan.txt", "text/plain", ContentFile(b"hello world\n" * 10, name="r.txt")),
        "result_json": ("scan.json", "application/json", ContentFile(b'{"pages": []}', name="r.json")),
    })
    return Task.objects.get(pk=task.pk)


def test_storage_follows_create_complete_retry_and_delete(user_a, django_capture_on_commit_callbacks):
    task = task_create(user=user_a, uploaded_file=png_upload())
    row = TaskStorage.objects.get(task=task)
    assert row.user_id == user_a.id and row.created_at == task.created_at
    assert row.bytes == len(png_bytes()) == _files_sum(task.id)

    task = _complete(task)
    assert _stored(task.id) == _files_sum(task.id) == len(png_bytes()) + 120 + 13

    services.task_cancel(actor=SYSTEM, task=task_create(user=user_a, uploaded_file=png_upload("other.png")))
    failed = Task.objects.filter(pk=task.pk)
    failed.update(status="failed")
    with django_capture_on_commit_callbacks(execute=False):
        services.task_retry(actor=SYSTEM, task=Task.objects.get(pk=task.pk))
    # the earlier run's results stay until the new run completes, then the new ones replace them
    assert _stored(task.id) == _files_sum(task.id) == len(png_bytes()) + 120 + 13
    with django_capture_on_commit_callbacks(execute=True):
        task = transitions.task_start(task_id=task.id, worker_id="test-2")
        transitions.task_complete(task=task, results={
            "result_txt": ("scan.txt", "text/plain", ContentFile(b"hello\n", name="r.txt"))})
    assert _stored(task.id) == _files_sum(task.id) == len(png_bytes()) + 6

    with django_capture_on_commit_callbacks(execute=True):
        services.task_delete(actor=SYSTEM, task=Task.objects.get(pk=task.pk))
    assert not TaskStorage.objects.filter(task_id=task.pk).exists()
    assert selectors.task_storage_bytes(user=user_a) == len(png_bytes())  # the other task's original


def test_removing_file_rows_from_operations_updates_storage(user_a):
    task = _complete(task_create(user=user_a, uploaded_file=png_upload()))
    json_row = task.files.get(kind="result_json")
    missing_file_rows_delete([json_row.pk], Outcome())
    assert _stored(task.id) == _files_sum(task.id) == len(png_bytes()) + 120


def test_deleting_a_user_removes_their_rows(user_a, user_b):
    task_create(user=user_a, uploaded_file=png_upload())
    kept = task_create(user=user_b, uploaded_file=png_upload())
    user_a.delete()
    assert list(TaskStorage.objects.values_list("task_id", flat=True)) == [kept.pk]


def test_rebuild_gives_the_same_rows_as_the_signals(user_a, user_b):
    for user in (user_a, user_b, user_a):
        _complete(task_create(user=user, uploaded_file=png_upload()))
    task_create(user=user_b, uploaded_file=png_upload())
    before = sorted(TaskStorage.objects.values_list("task_id", "user_id", "created_at", "bytes"))
    TaskStorage.objects.update(bytes=0)
    assert task_storage_rebuild() == 4
    assert sorted(TaskStorage.objects.values_list("task_id", "user_id", "created_at", "bytes")) == before
