"""Every file of the bad-input corpus (tests/corpus, made by make_corpus.py) gets its status and message, and leaves nothing."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tasks.intake.documents import DocumentError
from tasks.models import Task, TaskFile
from tests.tasks.pipeline_helpers import CORPUS, queued_jobs, signed_in, stored_names, task_create

MANIFEST = json.loads((CORPUS / "manifest.json").read_text())
CASES = MANIFEST["files"]


@pytest.fixture(autouse=True)
def _corpus_limits(settings):
    for name, value in MANIFEST["limits"].items():
        setattr(settings, name, value)


def _nothing_written():
    assert not Task.objects.exists()
    assert not TaskFile.objects.exists()
    assert stored_names() == []
    assert queued_jobs() == 0


def _upload(name) -> SimpleUploadedFile:
    """The corpus file, under the hostile name the manifest gives it (a path, a NUL, ...) if any."""
    return SimpleUploadedFile(CASES[name].get("upload_name", name), (CORPUS / name).read_bytes())


def test_the_corpus_is_what_the_script_makes():
    for name, expected in CASES.items():
        assert (CORPUS / name).stat().st_size == expected["size"], f"{name} changed: rerun tests/corpus/make_corpus.py"
    assert len(CASES) >= 30


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_file_on_the_upload_page(client, user_a, name):
    expected = CASES[name]
    signed_in(client, user_a)
    response = client.post("/", {"files": [_upload(name)]})
    assert response.status_code == expected["status"]
    page = response.content.decode()
    assert f"<strong>{expected.get('shown_name', name)}</strong>: " in page and expected["message"] in page
    _nothing_written()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_file_through_the_api(client, user_a, name):
    expected = CASES[name]
    signed_in(client, user_a)
    response = client.post("/api/v1/tasks", {"files": [_upload(name)]})
    assert response.status_code == expected["status"]
    error = response.json()["error"]
    assert error["code"] == expected["code"] and expected["message"] in error["message"]
    _nothing_written()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_file_through_the_service(user_a, name):
    expected = CASES[name]
    with pytest.raises(DocumentError) as err:
        task_create(user=user_a, uploaded_file=_upload(name))
    assert (err.value.status, err.value.code) == (expected["status"], expected["code"])
    assert expected["message"] in err.value.message
    _nothing_written()


@pytest.mark.django_db(transaction=True)
def test_a_png_named_pdf_and_a_pdf_named_png_are_taken_for_what_they_are(user_a):
    from tests.tasks.pipeline_helpers import sample_inputs

    samples = sample_inputs()
    as_pdf = task_create(user=user_a, uploaded_file=SimpleUploadedFile("scan.pdf", samples["png"][1]))
    as_png = task_create(user=user_a, uploaded_file=SimpleUploadedFile("scan.png", samples["pdf"][1]))
    assert (as_pdf.mime_type, as_pdf.files.get().file.name.rsplit("/", 1)[1]) == ("image/png", "original.png")
    assert (as_png.mime_type, as_png.page_count, as_png.files.get().file.name.rsplit("/", 1)[1]) == (
        "application/pdf", 2, "original.pdf")
