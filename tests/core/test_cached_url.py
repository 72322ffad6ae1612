"""{% url %} with its answers kept per process (core/templatetags/cached_url.py): the same answers as Django's
tag, whichever request asks, because everything a reversal depends on is in the key."""

import uuid

from django.template import Context, Template
from django.urls import reverse, set_script_prefix

SOURCE = "{% url 'tasks:detail' task_id %}"


def _render(task_id) -> str:
    return Template(SOURCE).render(Context({"task_id": task_id}))


def test_the_answer_follows_the_arguments():
    first, second = uuid.uuid4(), uuid.uuid4()
    assert _render(first) == reverse("tasks:detail", args=[first])
    assert _render(second) == reverse("tasks:detail", args=[second])
    assert _render(first) == reverse("tasks:detail", args=[first])


def test_the_answer_follows_the_script_prefix():
    task_id = uuid.uuid4()
    plain = _render(task_id)
    try:
        set_script_prefix("/ocr/")  # the site under a sub-path: the same process, another prefix
        assert _render(task_id) == reverse("tasks:detail", args=[task_id]) == "/ocr" + plain
    finally:
        set_script_prefix("/")
    assert _render(task_id) == plain
