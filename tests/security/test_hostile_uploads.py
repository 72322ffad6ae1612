"""Hostile uploads beyond the corpus (tests/corpus, tests/tasks/intake/test_bad_inputs.py): file names that try to be
paths, markup or other text, and a worker that keeps serving after hostile files.

The upload parser keeps only the last part of a path and drops unprintable characters; the task
service then makes the name shown; the stored name is always generated (``<user>/<task>/original.<ext>``).
"""

import json
from urllib.parse import quote

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from tasks import services
from tasks.models import Task, TaskFile
from tests.tasks.history_helpers import png_bytes, signed_in
from tests.tasks.pipeline_helpers import CORPUS, PAGES, run_worker, stored_names, task_create

pytestmark = pytest.mark.django_db(transaction=True)
MANIFEST = json.loads((CORPUS / "manifest.json").read_text())

NAMES = [  # (name sent, name shown)
    ("../../../etc/passwd.png", "passwd.png"),
    ("..\\..\\Windows\\System32\\evil.png", "evil.png"),
    ("/absolute/path/scan.png", "scan.png"),
    ("report.png\x00.html", "report.png.html"),
    ("a" * 300 + ".png", "a" * 251 + ".png"),
    ("<img src=x onerror=alert(1)>.png", "<img src=x onerror=alert(1)>.png"),
    ("invoice\u202egnp.exe", "invoicegnp.exe"),  # a right-to-left override would show "invoiceexe.png"
    ("tab\tand\nnewline.png", "tabandnewline.png"),
    ("請求書_2024年度（最終）.png", "請求書_2024年度（最終）.png"),
    ("Übersicht café.png", "Übersicht café.png"),
]


@pytest.mark.parametrize("sent,shown", NAMES)
def test_a_hostile_name_is_shown_as_data_and_never_becomes_a_path(client, user_a, sent, shown):
    signed_in(client, user_a)
    response = client.post("/api/v1/tasks", {"files": [SimpleUploadedFile(sent, png_bytes())]})
    assert response.status_code == 201, response.content
    task = Task.objects.get(user=user_a)
    assert task.filename == shown and response.json()["tasks"][0]["filename"] == shown
    assert stored_names() == [f"{user_a.id}/{task.id}/original.png"]  # generated, whatever was sent
    original = TaskFile.objects.get(task=task)
    assert original.file.name == f"{user_a.id}/{task.id}/original.png" and original.name == shown

    page = client.get(f"/tasks/{task.id}/").content.decode()
    assert "<img src=x" not in page and "\u202e" not in page and "\x00" not in page
    download = client.get(f"/api/v1/tasks/{task.id}/original")
    disposition = download["Content-Disposition"]
    assert disposition.startswith("attachment; ") and "/" not in disposition.replace("filename*=utf-8''", "")
    assert download["X-Content-Type-Options"] == "nosniff"
    if not shown.isascii():  # non-Latin letters kept exactly, sent as RFC 5987
        assert disposition == f"attachment; filename*=utf-8''{quote(shown)}"


def test_a_non_latin_name_is_kept_exactly_through_the_page_upload(client, user_a):
    signed_in(client, user_a)
    name = "請求書_2024年度（最終）.png"
    response = client.post("/", {"files": [SimpleUploadedFile(name, png_bytes())]})
    task = Task.objects.get(user=user_a)
    assert response.status_code == 302 and task.filename == name
    assert name in client.get(f"/tasks/{task.id}/").content.decode()
    assert name in client.get("/history/").content.decode()


@pytest.mark.ocr
def test_the_worker_keeps_serving_after_the_corpus_and_files_that_turn_hostile_in_storage(client, user_a, settings):
    """Every corpus file is refused at the door; files swapped for hostile ones behind the door fail with a
    reason; a good page queued after all of them still completes (Tesseract, for speed)."""
    if "tesseract" not in services.engine_names():
        pytest.skip("Tesseract is not installed")
    for name, value in MANIFEST["limits"].items():
        setattr(settings, name, value)
    signed_in(client, user_a)
    for name, expected in MANIFEST["files"].items():
        upload = SimpleUploadedFile(expected.get("upload_name", name), (CORPUS / name).read_bytes())
        assert client.post("/", {"files": [upload], "engine": "tesseract"}).status_code == expected["status"], name
    assert not Task.objects.exists() and stored_names() == []

    # Behind the door: good uploads whose stored originals are then replaced by hostile content.
    swapped = {}
    for corpus_name in ("bomb-50000x50000.png", "truncated.png", "javascript-open-action.pdf"):
        task = task_create(user=user_a, uploaded_file=SimpleUploadedFile("fine.png", png_bytes((200, 100))),
                                    engine="tesseract")
        with open(default_storage.path(task.files.get().file.name), "wb") as fh:
            fh.write((CORPUS / corpus_name).read_bytes())
        swapped[corpus_name] = task
    good = task_create(user=user_a, uploaded_file=SimpleUploadedFile(
        "libtasn1_p13.png", (PAGES / "libtasn1_p13.png").read_bytes()), engine="tesseract")
    run_worker()

    for task in swapped.values():
        task.refresh_from_db()
        assert task.status == "failed" and task.error_message, task.filename
    assert swapped["bomb-50000x50000.png"].error_code == "too_many_pixels"
    good.refresh_from_db()
    assert good.status == "completed", (good.error_code, good.error_message)
    text = client.get(f"/api/v1/tasks/{good.id}/result.txt")
    assert text.status_code == 200 and "function reference" in b"".join(text.streaming_content).decode().lower()
