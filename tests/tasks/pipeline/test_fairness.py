"""One user's many queued tasks or one huge document do not make everyone else wait behind them."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tasks.models import Task
from tests.tasks.pipeline_helpers import encode, run_worker, task_create


class OrderRecorder:
    """A fake engine noting which task each page belongs to (the real path: test_ocr_pipeline.py)."""

    def __init__(self):
        self.order: list[str] = []

    def recognize(self, image):
        task = Task.objects.get(status="processing")
        if not self.order or self.order[-1] != task.filename:
            self.order.append(task.filename)
        return []


@pytest.fixture
def recorder(monkeypatch):
    engine = OrderRecorder()
    monkeypatch.setattr("tasks.pipeline.processing.get_engine", lambda name: engine)
    return engine


def _png(name):
    return SimpleUploadedFile(name, encode(Image.new("L", (60, 30), 255), "PNG"))


@pytest.mark.django_db(transaction=True)
def test_one_task_of_b_runs_before_most_of_the_ten_a_queued_first(user_a, user_b, recorder):
    for n in range(10):
        task_create(user=user_a, uploaded_file=_png(f"a{n}.png"))
    task_create(user=user_b, uploaded_file=_png("b.png"))
    run_worker()
    assert Task.objects.filter(status="completed").count() == 11
    position = recorder.order.index("b.png")
    print("order:", recorder.order)
    assert position <= 1, recorder.order  # after at most A's first task, before the other nine
    assert [n for n in recorder.order if n.startswith("a")] == [f"a{n}.png" for n in range(10)]  # A's stay in order


@pytest.mark.django_db(transaction=True)
def test_a_single_page_goes_before_another_users_big_document_queued_first(user_a, user_b, recorder):
    pages = [Image.new("L", (40, 20), 255)] * 40
    big = SimpleUploadedFile("big.tiff", encode(pages[0], "TIFF", save_all=True, append_images=pages[1:]))
    task_create(user=user_a, uploaded_file=big)
    task_create(user=user_b, uploaded_file=_png("b.png"))
    run_worker()
    assert recorder.order == ["b.png", "big.tiff"]
