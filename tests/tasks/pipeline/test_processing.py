"""The worker path with a fake engine (fast): every input type, page by page, three results as TaskFile rows.

The real engines go through the same path in test_ocr_pipeline.py (the fake's real twin).
"""

import json

import pypdfium2 as pdfium
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from tasks.models import Task
from tasks.pipeline import processing
from tests.tasks.pipeline_helpers import run_worker, sample_inputs, task_create

SAMPLES = sample_inputs()


def _create(user, label, **kwargs):
    name, content, _mime, _pages = SAMPLES[label]
    return task_create(user=user, uploaded_file=SimpleUploadedFile(name, content), **kwargs)


def _read(task, kind) -> bytes:
    tf = task.files.get(kind=kind)
    with default_storage.open(tf.file.name) as fh:
        return fh.read()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("label", [label for label in SAMPLES if label != "pdf"])  # born-digital: test_pdf_text.py
def test_every_input_type_is_read_page_by_page_into_three_results(user_a, fake_engine, settings, label):
    settings.OCR_PDF_DPI = 100
    task = _create(user_a, label)
    run_worker()
    task.refresh_from_db()
    _name, _content, mime, pages = SAMPLES[label]
    assert task.status == "completed", task.error_message
    assert (task.pages_done, task.page_count) == (pages, pages) and task.processing_seconds > 0
    assert len(fake_engine.seen) == pages

    files = {f.kind: f for f in task.files.all()}
    assert set(files) == {"original", "result_txt", "result_json", "result_pdf"}
    stem = task.filename.rsplit(".", 1)[0]
    assert (files["result_txt"].name, files["result_json"].name, files["result_pdf"].name) == (
        f"{stem}.txt", f"{stem}.json", f"{stem}.ocr.pdf")
    for kind, stored in (("result_txt", "result.txt"), ("result_json", "result.json"), ("result_pdf", "result.pdf")):
        assert files[kind].file.name == f"{user_a.id}/{task.id}/{stored}"
        assert files[kind].size_bytes == default_storage.size(files[kind].file.name) > 0
        assert len(files[kind].sha256) == 64

    data = json.loads(_read(task, "result_json"))
    assert data["task_id"] == str(task.id) and data["engine"] == settings.OCR_ENGINE and data["language"] == "en"
    assert [p["number"] for p in data["pages"]] == list(range(1, pages + 1))
    for page, (width, height, _mode) in zip(data["pages"], fake_engine.seen, strict=True):
        assert (page["width"], page["height"]) == (width, height)
        assert page["text"].startswith(f"page{page['number']} size {width}x{height}\n")
        line = page["lines"][0]
        assert set(line) == {"text", "confidence", "box"} and type(line["confidence"]) is float
        assert len(line["box"]) == 4 and all(type(v) is float for point in line["box"] for v in point)

    text = _read(task, "result_txt").decode()
    assert text.count("\f") == pages - 1 and text.endswith("second line\n")

    pdf = pdfium.PdfDocument(_read(task, "result_pdf"))
    assert len(pdf) == pages
    assert pdf.get_metadata_value("Title") == task.filename  # viewers show the uploaded file's name
    first = pdf[0].get_textpage().get_text_range()
    assert "page1 size" in first and "second line" in first
    pdf.close()


@pytest.mark.django_db(transaction=True)
def test_progress_and_heartbeat_are_written_after_each_page(user_a, monkeypatch):
    task = _create(user_a, "tiff")
    seen = []

    class Recorder:
        def recognize(self, image):
            row = Task.objects.get(pk=task.pk)
            seen.append((row.status, row.pages_done, row.heartbeat_at))
            return []

    monkeypatch.setattr("tasks.pipeline.processing.get_engine", lambda name: Recorder())
    assert processing.run_task(str(task.pk)) == "completed"
    assert [(s, done) for s, done, _beat in seen] == [("processing", 0), ("processing", 1)]
    assert seen[1][2] > seen[0][2]  # the heartbeat moved after page 1
    task.refresh_from_db()
    assert task.status == "completed" and task.pages_done == 2


@pytest.mark.django_db(transaction=True)
def test_a_task_runs_once_even_if_its_job_runs_twice(user_a, fake_engine):
    task = _create(user_a, "png")
    assert processing.run_task(str(task.pk)) == "completed"
    assert processing.run_task(str(task.pk)) == "skipped"
    assert len(fake_engine.seen) == 1 and task.files.count() == 4


@pytest.mark.django_db(transaction=True)
def test_an_engine_error_fails_the_task_with_a_reason_and_keeps_no_results(user_a, monkeypatch):
    task = _create(user_a, "tiff")

    class Broken:
        def recognize(self, image):
            raise RuntimeError("out of memory in the detector")

    monkeypatch.setattr("tasks.pipeline.processing.get_engine", lambda name: Broken())
    run_worker()  # the worker itself carries on
    task.refresh_from_db()
    assert task.status == "failed" and task.error_code == "processing_error"
    assert task.error_message == "OCR failed (RuntimeError). Retry the task, or try the other engine."
    assert list(task.files.values_list("kind", flat=True)) == ["original"]
    assert sorted(default_storage.listdir(f"{user_a.id}/{task.id}")[1]) == ["original.tif"]


@pytest.mark.django_db(transaction=True)
def test_storage_failing_while_saving_results_fails_the_task_and_leaves_no_result(user_a, fake_engine, settings,
                                                                                   tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "tests.tasks.failing_storage.FailingResultsStorage", "OPTIONS": {"location": str(tmp_path / "f")}}}
    task = _create(user_a, "png")
    assert processing.run_task(str(task.pk)) == "failed"
    task.refresh_from_db()
    assert (task.status, task.error_code) == ("failed", "storage_unavailable")
    assert "storage is full or read-only" in task.error_message and "retry the task later" in task.error_message
    assert "try the other engine" not in task.error_message  # a disk fault is not the engine's (issue 16)
    assert list(task.files.values_list("kind", flat=True)) == ["original"]
    assert sorted(default_storage.listdir(f"{user_a.id}/{task.id}")[1]) == ["original.png"]  # result.txt removed


@pytest.mark.django_db(transaction=True)
def test_a_task_whose_original_vanished_from_storage_fails_with_a_reason(user_a, fake_engine):
    task = _create(user_a, "png")
    default_storage.delete(task.files.get().file.name)
    assert processing.run_task(str(task.pk)) == "failed"
    task.refresh_from_db()
    assert (task.status, task.error_code) == ("failed", "original_missing")
    assert task.error_message == "The uploaded file is no longer in storage; upload it again."
