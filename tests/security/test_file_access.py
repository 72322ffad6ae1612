"""Files are opened only inside their owner's folder, whatever a (tampered) row says; each refusal is audited."""

import os

import pytest
from django.core.files.storage import default_storage

from core.models import AuditLog
from tasks.models import TaskFile
from tests.tasks.history_helpers import make_task, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_tasks(user_a, user_b):
    mine = make_task(user_a, filename="mine.png", status="completed", with_files=True)
    theirs = make_task(user_b, filename="theirs.png", status="completed", with_files=True)
    return mine, theirs


def _download(client, task, suffix="result.txt"):
    response = client.get(f"/api/v1/tasks/{task.id}/{suffix}")
    body = b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content
    return response.status_code, body


@pytest.mark.parametrize("tampered", [
    "{b}/{bt}/result.txt",                     # another user's file
    "{a}/{at}/../../{b}/{bt}/result.txt",      # climbing out of the task folder
    "{a}/{bt}/result.txt",                     # the right user, another task's folder
    "/etc/passwd",
    "{a}/{at}/../../../../../../etc/passwd",
])
def test_a_row_pointing_outside_its_owners_folder_is_never_served(client, user_a, user_b, two_tasks, tampered):
    mine, theirs = two_tasks
    name = tampered.format(a=user_a.id, at=mine.id, b=user_b.id, bt=theirs.id)
    TaskFile.objects.filter(task=mine, kind="result_txt").update(file=name)
    signed_in(client, user_a)
    status, body = _download(client, mine)
    assert status == 404 and b"theirs" not in body and b"root:" not in body
    row = AuditLog.objects.get(user=user_a, action="file.download")
    assert row.outcome == AuditLog.Outcome.DENIED and row.object_id == str(mine.id)


def test_a_symlink_in_the_owners_folder_to_another_users_file_is_not_followed(client, user_a, user_b, two_tasks):
    mine, theirs = two_tasks
    target = default_storage.path(theirs.files.get(kind="result_txt").file.name)
    link = default_storage.path(mine.files.get(kind="result_txt").file.name)
    os.remove(link)
    os.symlink(target, link)
    signed_in(client, user_a)
    status, body = _download(client, mine)
    assert status == 404 and b"theirs" not in body


def test_a_file_missing_from_storage_is_a_404_and_audited_as_failed(client, user_a, two_tasks):
    mine, _theirs = two_tasks
    default_storage.delete(mine.files.get(kind="result_txt").file.name)
    signed_in(client, user_a)
    status, _body = _download(client, mine)
    assert status == 404
    assert AuditLog.objects.get(user=user_a, action="file.download").outcome == AuditLog.Outcome.FAILED


def test_the_owner_still_gets_their_own_file(client, user_a, two_tasks):
    mine, _theirs = two_tasks
    signed_in(client, user_a)
    assert _download(client, mine) == (200, b"text of mine.png\n")
    assert AuditLog.objects.get(user=user_a, action="file.download").outcome == AuditLog.Outcome.ALLOWED
