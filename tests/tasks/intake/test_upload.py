"""The upload page: several files at once, one task each, a clear message per refused file, nothing half-written."""

import hashlib

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from tasks.models import Task, TaskFile
from tests.tasks.pipeline_helpers import CORPUS, queued_jobs, sample_inputs, signed_in, stored_names

SAMPLES = sample_inputs()


def _file(label):
    name, content, _mime, _pages = SAMPLES[label]
    return SimpleUploadedFile(name, content)


def _nothing_written():
    return not Task.objects.exists() and not TaskFile.objects.exists() and stored_names() == [] and queued_jobs() == 0


@pytest.mark.django_db(transaction=True)
def test_several_files_of_every_type_become_one_task_each_stored_under_user_and_task(client, user_a):
    signed_in(client, user_a)
    response = client.post("/", {"files": [_file(label) for label in SAMPLES], "engine": "easyocr"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert f"{len(SAMPLES)} files are queued for OCR, in the order chosen." in client.get("/").content.decode()

    tasks = {t.filename: t for t in Task.objects.filter(user=user_a)}
    assert len(tasks) == len(SAMPLES)
    for name, content, mime, pages in SAMPLES.values():
        task = tasks[name]
        assert (task.status, task.engine, task.mime_type, task.page_count) == ("pending", "easyocr", mime, pages)
        assert task.size_bytes == len(content) and task.sha256 == hashlib.sha256(content).hexdigest()
        original = task.files.get(kind=TaskFile.Kind.ORIGINAL)
        folder, _, stored = original.file.name.rpartition("/")
        assert folder == f"{user_a.id}/{task.id}" and stored.startswith("original.")
        with default_storage.open(original.file.name) as fh:
            assert fh.read() == content
        assert task.queue_result_id  # queued after the commit
    assert queued_jobs() == len(SAMPLES)


@pytest.mark.django_db(transaction=True)
def test_one_file_goes_to_its_task_page(client, user_a):
    signed_in(client, user_a)
    response = client.post("/", {"files": [_file("png")]})
    task = Task.objects.get(user=user_a)
    assert response.status_code == 302 and response["Location"] == f"/tasks/{task.id}/"
    assert task.engine == django_settings.OCR_ENGINE  # the default


@pytest.mark.django_db(transaction=True)
def test_the_users_file_name_is_data_never_a_path(file_storage, client, user_a):
    signed_in(client, user_a)
    _name, content, _mime, _pages = SAMPLES["png"]
    client.post("/", {"files": [SimpleUploadedFile("../../etc/passwd\x00.png", content)]})
    task = Task.objects.get(user=user_a)
    assert task.filename == "passwd.png"
    assert stored_names() == [f"{user_a.id}/{task.id}/original.png"]


@pytest.mark.django_db(transaction=True)
def test_one_bad_file_refuses_the_whole_upload_and_each_bad_one_is_named_with_its_reason(file_storage, client,
                                                                                         user_a):
    """All or nothing (issue 16): a killed or refused upload never leaves part of a batch behind."""
    signed_in(client, user_a)
    bad = [SimpleUploadedFile(name, (CORPUS / name).read_bytes())
           for name in ("notes.txt", "encrypted.pdf", "truncated.jpg")]
    response = client.post("/", {"files": [_file("png"), *bad, _file("webp")]})
    assert response.status_code == 415  # the first refusal's status
    page = response.content.decode()
    assert "Queued for OCR:" not in page and "nothing of this upload was kept" in page
    assert "<strong>notes.txt</strong>: This type of file is not supported" in page
    assert "<strong>encrypted.pdf</strong>: The PDF is protected by a password" in page
    assert "<strong>truncated.jpg</strong>: The file is damaged or incomplete" in page
    assert _nothing_written()


@pytest.mark.django_db(transaction=True)
def test_a_file_over_the_size_limit_is_cut_off_while_streaming_and_refuses_the_upload(client, user_a, settings,
                                                                                      tmp_path):
    settings.MAX_UPLOAD_MB = 1
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "uploads")
    (tmp_path / "uploads").mkdir()
    signed_in(client, user_a)
    big = SimpleUploadedFile("big-scan.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (1024 * 1024 + 10))
    response = client.post("/", {"files": [big, _file("png")]})
    assert response.status_code == 413
    page = response.content.decode()
    assert "<strong>big-scan.png</strong>: The file is larger than 1 MB, the most we take per file." in page
    assert "No file of this upload was kept." in page
    assert _nothing_written()
    assert list((tmp_path / "uploads").iterdir()) == []  # the temporary files are gone

    big.seek(0)
    response = client.post("/", {"files": [big]})
    assert response.status_code == 413 and "larger than 1 MB" in response.content.decode()
    assert Task.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_uploads_are_streamed_to_disk_not_memory(client, user_a, settings):
    from tasks.intake.uploads import LimitedTemporaryFileUploadHandler

    seen = []
    original = LimitedTemporaryFileUploadHandler.file_complete

    def spy(self, size):
        uploaded = original(self, size)
        seen.append(uploaded.temporary_file_path())
        return uploaded

    signed_in(client, user_a)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(LimitedTemporaryFileUploadHandler, "file_complete", spy)
        client.post("/", {"files": [_file("png")]})
    assert len(seen) == 1 and Task.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_active_task_limit_takes_what_fits_then_answers_429(client, user_a, user_b, settings):
    settings.MAX_TASKS_PER_USER = 2
    signed_in(client, user_a)
    response = client.post("/", {"files": [_file("png"), _file("bmp"), _file("webp")]}, follow=True)
    page = response.content.decode()
    assert "You may have at most 2 tasks waiting or running, so 1 file was not uploaded." in page
    assert '<div class="alert" role="alert" data-testid="upload-over-cap">' in page and "<li>page.webp</li>" in page
    assert sorted(Task.objects.filter(user=user_a).values_list("filename", flat=True)) == ["libtasn1_p13.png", "page.bmp"]

    response = client.post("/", {"files": [_file("png")]})
    assert response.status_code == 429
    assert "You may have at most 2 tasks waiting or running, so 1 file was not uploaded" in response.content.decode()
    assert Task.objects.filter(user=user_a).count() == 2 and len(stored_names()) == 2

    Task.objects.filter(user=user_a).update(status="completed")  # finished tasks do not count
    assert client.post("/", {"files": [_file("png")]}).status_code == 302
    signed_in(client, user_b)  # and the limit is per user
    assert client.post("/", {"files": [_file("png")]}).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_storage_failing_mid_save_leaves_no_row_and_no_partial_file(client, user_a, settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "tests.tasks.failing_storage.HalfWriteStorage",
                                                          "OPTIONS": {"location": str(tmp_path / "files")}}}
    signed_in(client, user_a)
    response = client.post("/", {"files": [_file("png")]})
    assert response.status_code == 503
    assert "could not be stored just now, so nothing was saved" in response.content.decode()
    assert _nothing_written()
    assert not (tmp_path / "files" / str(user_a.id)).exists() or not any((tmp_path / "files" / str(user_a.id)).iterdir())


@pytest.mark.django_db(transaction=True)
def test_database_failing_after_the_file_was_written_removes_the_file(client, user_a, monkeypatch):
    from django.db import IntegrityError

    def broken_save(self, *args, **kwargs):
        raise IntegrityError("simulated: the database refused the row")

    monkeypatch.setattr(TaskFile, "save", broken_save)
    signed_in(client, user_a)
    with pytest.raises(IntegrityError):
        client.post("/", {"files": [_file("png")]})
    assert _nothing_written()


@pytest.mark.django_db
def test_no_file_and_unknown_engine_are_refused(client, user_a):
    signed_in(client, user_a)
    response = client.post("/", {})
    assert response.status_code == 400 and "Choose at least one file to read." in response.content.decode()
    response = client.post("/", {"files": [_file("png")], "engine": "nonsense"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert not Task.objects.exists()


@pytest.mark.django_db
def test_the_form_offers_each_engine_with_its_trade_off_and_drag_and_drop(client, user_a):
    signed_in(client, user_a)
    page = client.get("/").content.decode()
    assert 'type="file" name="files"' in page and "multiple" in page
    assert 'value="easyocr"' in page and "English only" in page
    assert 'value="tesseract"' in page and "reads all listed languages" in page
    assert 'id="dropzone"' in page and "/static/js/upload.js" in page
