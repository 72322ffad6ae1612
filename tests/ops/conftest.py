"""Fixtures for the operations tests: tasks with real files in the test's storage folder, signed-in clients."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone


@pytest.fixture
def make_task(db):
    """A task of ``user`` with an original (and result files if completed), stored for real."""
    from tasks.models import Task, TaskFile

    def factory(user, *, status="completed", age_days=0, engine="easyocr", filename="scan.png", pages=1,
                seconds=None, results=True):
        created = timezone.now() - timedelta(days=age_days)
        task = Task.objects.create(user=user, filename=filename, status=status, engine=engine, created_at=created,
                                   page_count=pages, pages_done=pages if status == "completed" else 0,
                                   mime_type="image/png", size_bytes=4,
                                   processing_seconds=seconds, heartbeat_at=created if status != "pending" else None)
        kinds = [(TaskFile.Kind.ORIGINAL, "original.png", b"\x89PNG")]
        if status == "completed" and results:
            kinds += [(TaskFile.Kind.RESULT_TXT, "result.txt", b"hello world\n"),
                      (TaskFile.Kind.RESULT_JSON, "result.json", b'{"pages": []}')]
        for kind, name, content in kinds:
            tf = TaskFile(task=task, kind=kind, name=name, size_bytes=len(content))
            tf.file.save(name, ContentFile(content), save=False)
            tf.save()
        return task

    return factory


def file_names(task):
    return [f.file.name for f in task.files.all()]


def exists(name):
    return default_storage.exists(name)


def signed_in(client, user):
    """force_login plus the session row the sign-in code keeps for every browser session."""
    from accounts.models import TokenSession

    client.force_login(user, backend="accounts.backends.ExternalAuthBackend")
    TokenSession.objects.get_or_create(user=user, session_key=client.session.session_key)
    return client


@pytest.fixture
def staff_user(make_user):
    return make_user("operator@example.com", "Olga Operator", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_client(client, staff_user):
    return signed_in(client, staff_user)
