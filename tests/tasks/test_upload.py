"""Bad uploads get a clear error and leave nothing behind."""

import io

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from tasks.models import Task, TaskFile


def _storage_files(user):
    try:
        dirs, _files = default_storage.listdir(str(user.id))
    except FileNotFoundError:
        return []
    return dirs


@pytest.mark.django_db
@pytest.mark.parametrize("name,content,status,message", [
    ("empty.png", b"", 400, "The submitted file is empty."),
    ("notes.png", b"<html><script>alert(1)</script></html>", 415, "This type of file is not supported"),
    ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, 400, "The file is damaged or incomplete"),
])
def test_bad_upload_is_refused_with_nothing_written(client, user_a, name, content, status, message):
    client.force_login(user_a)
    response = client.post("/", {"file": SimpleUploadedFile(name, content)})
    assert response.status_code == status
    assert message in response.content.decode()
    assert not Task.objects.exists() and not TaskFile.objects.exists()
    assert _storage_files(user_a) == []
