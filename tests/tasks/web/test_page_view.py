"""The page beside its text (issue 14 item 3), server side: the page image is the upright page the boxes
refer to (a page uploaded on its side included), only its owner gets it, and the task page carries the
overlay, the low-confidence marks, the copy buttons and one continuous text (no capped scroll boxes)."""

import io
import json

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from tasks.models import TaskFile
from tasks.web.page_view import LOW_CONFIDENCE, page_view
from tests import pagegen
from tests.tasks.history_helpers import make_task, signed_in
from tests.tasks.pipeline_helpers import run_worker, task_create


def _result(task) -> dict:
    with default_storage.open(task.files.get(kind=TaskFile.Kind.RESULT_JSON).file.name) as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def letter():
    return pagegen.text_page()


@pytest.fixture
def turned_task(db, user_a, letter, django_db_blocker):
    """A real upload of a page lying on its side (90°), read by Tesseract through the real worker."""
    image, _truth = letter
    buf = io.BytesIO()
    pagegen.turned(image, 90).save(buf, "PNG")
    task = task_create(user=user_a, uploaded_file=SimpleUploadedFile("sideways.png", buf.getvalue()),
                                engine="tesseract")
    run_worker()
    task.refresh_from_db()
    assert task.status == "completed", task.error_message
    return task


@pytest.mark.ocr
@pytest.mark.django_db(transaction=True)
def test_the_page_image_is_the_upright_page_and_the_boxes_sit_on_its_ink(client, user_a, user_b, turned_task):
    page = _result(turned_task)["pages"][0]
    assert page["turned"] and page["height"] > page["width"]  # read upright (portrait) though uploaded landscape
    signed_in(client, user_a)
    response = client.get(f"/tasks/{turned_task.id}/pages/1/image")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    image = Image.open(io.BytesIO(response.content)).convert("L")
    # Same shape as the page the boxes refer to (portrait), within a pixel of rounding.
    assert abs(image.width / image.height - page["width"] / page["height"]) < 0.01
    sx, sy = image.width / page["width"], image.height / page["height"]
    pixels = np.asarray(image, dtype=np.uint8)
    inside = []
    for line in page["lines"]:
        xs, ys = [p[0] * sx for p in line["box"]], [p[1] * sy for p in line["box"]]
        box = pixels[int(min(ys)):int(max(ys)) + 1, int(min(xs)):int(max(xs)) + 1]
        inside.append(box.min() < 110 and box.mean() < 235)  # ink under every box
    assert inside and all(inside), inside
    # The rest of the page, outside every box, is mostly paper.
    mask = np.ones_like(pixels, dtype=bool)
    for line in page["lines"]:
        xs, ys = [p[0] * sx for p in line["box"]], [p[1] * sy for p in line["box"]]
        mask[max(0, int(min(ys)) - 3):int(max(ys)) + 4, max(0, int(min(xs)) - 3):int(max(xs)) + 4] = False
    assert pixels[mask].mean() > 245

    # Only the owner: another user and a visitor get nothing of it.
    other = signed_in(Client(), user_b).get(f"/tasks/{turned_task.id}/pages/1/image")
    assert other.status_code == 404 and b"JFIF" not in other.content
    visitor = Client().get(f"/tasks/{turned_task.id}/pages/1/image")
    assert visitor.status_code == 302 and visitor["Location"].startswith("/login/")
    for number in (0, 2, 99):
        assert client.get(f"/tasks/{turned_task.id}/pages/{number}/image").status_code == 404

    html = client.get(f"/tasks/{turned_task.id}/").content.decode()
    assert f'src="/tasks/{turned_task.id}/pages/1/image?run=0"' in html
    assert html.count("<polygon ") == len([l for l in page["lines"] if l["text"].strip()])
    assert 'data-testid="copy-page"' in html and 'data-testid="copy-all"' in html
    assert 'data-testid="lines-toggle"' in html and "max-height" not in html


@pytest.mark.django_db
def test_no_page_image_without_a_searchable_pdf(client, user_a):
    task = make_task(user_a, filename="old.png", with_files=True)  # original, result.txt and result.json only
    signed_in(client, user_a)
    assert client.get(f"/tasks/{task.id}/pages/1/image").status_code == 404
    html = client.get(f"/tasks/{task.id}/").content.decode()
    assert "pages/1/image" not in html and 'data-testid="lines-toggle"' not in html


def test_page_view_marks_low_confidence_and_keeps_the_reading_order():
    page = {"number": 1, "width": 100, "height": 60, "text": "Total due\n\nsigned",
            "lines": [{"text": "due", "confidence": 0.95, "box": [[50, 10], [80, 10], [80, 20], [50, 20]]},
                      {"text": "Total", "confidence": LOW_CONFIDENCE - 0.01, "box": [[10, 10], [40, 10], [40, 20], [10, 20]]},
                      {"text": "signed", "confidence": 0.9, "box": [[10, 40], [40, 40], [40, 50], [10, 50]]},
                      {"text": "  ", "confidence": 0.1, "box": [[0, 0], [1, 0], [1, 1], [0, 1]]},
                      {"text": "broken", "confidence": 0.9, "box": "not a box"}]}
    view = page_view(page, 1)
    rows = [[(i["text"], i["low"], i["id"]) for i in row["items"]] for row in view["rows"]]
    assert rows == [[("Total", True, "p1-l1"), ("due", False, "p1-l0")], [("signed", False, "p1-l2")]]
    assert [row["gap"] for row in view["rows"]] == [False, True]  # a paragraph break, as in result.txt
    assert {b["id"]: b["low"] for b in view["boxes"]} == {"p1-l0": False, "p1-l1": True, "p1-l2": False}
    assert view["boxes"][0]["points"] == "50,10 80,10 80,20 50,20" and view["has_overlay"]
    assert page_view({"number": 2, "text": "x"}, 2)["has_overlay"] is False


@pytest.mark.ocr
@pytest.mark.django_db(transaction=True)
def test_a_page_image_is_drawn_once_per_result(client, user_a, user_b, turned_task, monkeypatch):
    from django.core.cache import cache

    from tasks.web import page_view as pv

    cache.clear()
    drawn = []
    real = pv._render
    monkeypatch.setattr(pv, "_render", lambda data, index: drawn.append(index) or real(data, index))
    signed_in(client, user_a)
    first = client.get(f"/tasks/{turned_task.id}/pages/1/image")
    again = client.get(f"/tasks/{turned_task.id}/pages/1/image")
    assert first.status_code == again.status_code == 200 and first.content == again.content and drawn == [0]
    # The cache never answers another user.
    assert signed_in(Client(), user_b).get(f"/tasks/{turned_task.id}/pages/1/image").status_code == 404
