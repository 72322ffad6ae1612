"""The task pages' forms (tasks/web/forms.py): the Run again form's HTML, kept per process, is the form's own."""

import pytest

from tasks.web.forms import RetryForm
from tests.tasks.history_helpers import make_task

pytestmark = pytest.mark.django_db


def _drawn(form) -> dict:
    """The fields' HTML drawn through the widgets' templates, as the page did before field_html."""
    return {"engine": [str(radio) for radio in form["engine"]], "language": str(form["language"])}


def test_run_again_fields_are_each_tasks_own_whichever_task_came_first(user_a):
    tasks = [make_task(user_a, status="failed", engine="tesseract", language="de"),
             make_task(user_a, status="failed", engine="easyocr", language="en"),
             make_task(user_a, status="failed", engine="tesseract", language="de"),
             make_task(user_a, status="failed", engine="tesseract", language="xx-unlisted")]
    for task in tasks:
        kept, drawn = RetryForm(task=task).field_html(), _drawn(RetryForm(task=task))
        assert list(kept["engine"]) == drawn["engine"] and kept["language"] == drawn["language"]
        checked = [radio for radio in kept["engine"] if " checked" in radio]
        assert len(checked) == 1 and f'value="{task.engine}"' in checked[0]
        assert f'<option value="{task.language}" selected>' in kept["language"]
    for task in (tasks[0], tasks[3]):  # a refused choice: the form is drawn again, with the task's language offered
        bound = RetryForm({"engine": "nope", "language": task.language}, task=task)
        assert not bound.is_valid() and bound.field_html() == _drawn(bound)
        assert f'<option value="{task.language}" selected>' in bound.field_html()["language"]
