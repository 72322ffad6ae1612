"""The task services: choices, typed refusals, the queue priority, and the guard that only the worker run that started a task may finish it."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tasks_db.models import DBTaskResult

from core.errors import AppError
from tasks import services
from tasks.models import Task, TaskFile
from tasks.pipeline import transitions
from tests.tasks.pipeline_helpers import sample_inputs, stored_names, task_create

SAMPLES = sample_inputs()


def _create(user, label="png", **kwargs):
    name, content, _mime, _pages = SAMPLES[label]
    return task_create(user=user, uploaded_file=SimpleUploadedFile(name, content), **kwargs)


@pytest.mark.django_db(transaction=True)
def test_engine_and_language_default_to_the_settings_and_are_checked(user_a, settings):
    settings.OCR_ENGINE = "easyocr"
    assert _create(user_a).engine == "easyocr"
    settings.OCR_ENGINE = "tesseract"
    assert _create(user_a).engine == "tesseract"
    with pytest.raises(AppError) as err:
        _create(user_a, engine="gpt")
    assert (err.value.status, err.value.code) == (400, "invalid_engine")
    assert err.value.message.startswith("Unknown OCR engine “gpt”: choose one of easyocr")
    with pytest.raises(AppError) as err:
        _create(user_a, language="tlh")
    assert (err.value.status, err.value.code) == (400, "invalid_language")
    assert err.value.details["choices"][:2] == ["en", "de"] and "zh-Hant" in err.value.details["choices"]
    assert Task.objects.count() == 2 and len(stored_names()) == 2  # the two good ones; nothing of the refused


@pytest.mark.django_db(transaction=True)
def test_every_refusal_is_a_service_error_with_code_message_status(user_a, settings):
    settings.MAX_TASKS_PER_USER = 1
    _create(user_a)
    with pytest.raises(AppError) as err:
        _create(user_a)
    assert isinstance(err.value, services.TaskLimitReached)
    assert (err.value.code, err.value.status, err.value.details["max_tasks_per_user"]) == ("task_limit_reached", 429, 1)
    assert err.value.details["refused"] == [{"file": "libtasn1_p13.png", "index": 0, "code": "task_limit_reached",
                                             "message": err.value.message}]
    settings.MAX_TASKS_PER_USER = 5  # at the limit, the limit is checked first (before the costly inspection)
    with pytest.raises(AppError) as err:
        task_create(user=user_a, uploaded_file=SimpleUploadedFile("x.gif", b"GIF89a" + b"\0" * 20))
    assert (err.value.code, err.value.status) == ("unsupported_type", 415)


@pytest.mark.django_db(transaction=True)
def test_priority_drops_with_the_users_backlog_of_tasks_and_pages(user_a, user_b):
    first = _create(user_a)
    assert services.task_priority(first) == 0
    second = _create(user_a)
    assert services.task_priority(second) == -1  # one task ahead
    for t in (first, second):
        t.refresh_from_db()
    priorities = [DBTaskResult.objects.get(pk=t.queue_result_id).priority for t in (first, second)]
    assert priorities == [0, -1]  # what was given to the queue
    assert services.task_priority(_create(user_b)) == 0  # another user starts at the top
    big = Task(user=user_b, page_count=300)
    assert services.task_priority(big) == -31  # 1 task ahead, 1 + 300 pages: 1 + 301 // 10
    Task.objects.filter(user=user_a).update(status="completed")  # finished work does not count
    assert services.task_priority(Task(user=user_a, page_count=1)) == 0


@pytest.mark.django_db(transaction=True)
def test_priority_never_goes_below_the_queue_minimum(user_a):
    task = _create(user_a)
    Task.objects.filter(pk=task.pk).update(page_count=5000)
    assert services.task_priority(Task(user=user_a, page_count=1)) == -100


@pytest.mark.django_db(transaction=True)
def test_only_the_run_that_started_a_task_may_beat_complete_or_fail_it(user_a):
    task = _create(user_a)
    old_run = transitions.task_start(task_id=task.pk, worker_id="host:1:aaa")
    # The reaper took it away and another worker run started it again.
    Task.objects.filter(pk=task.pk).update(status="pending")
    new_run = transitions.task_start(task_id=task.pk, worker_id="host:2:bbb")
    with pytest.raises(transitions.TaskNoLongerProcessing):
        transitions.task_heartbeat(task=old_run, pages_done=1)
    with pytest.raises(transitions.TaskNoLongerProcessing):
        transitions.task_complete(task=old_run, results={
            TaskFile.Kind.RESULT_TXT: ("a.txt", "text/plain", ContentFile(b"stale"))})
    assert transitions.task_fail(task=old_run, code="x", message="stale") is False
    assert Task.objects.get(pk=task.pk).status == "processing"
    assert TaskFile.objects.filter(task=task).count() == 1 and len(stored_names()) == 1  # stale result removed
    transitions.task_heartbeat(task=new_run, pages_done=1)
    assert Task.objects.get(pk=task.pk).pages_done == 1


@pytest.mark.django_db(transaction=True)
def test_one_batch_rule_and_the_cap_as_its_one_switch(user_a, settings):
    """A bad file refuses the whole batch, named; past the cap the API's call refuses it too (429), the
    page's (fit_to_cap) queues what fits and names the rest. Nothing refused is half-written."""
    settings.MAX_TASKS_PER_USER = 3
    _create(user_a)
    png, gif = SAMPLES["png"][1], b"GIF89a" + b"\0" * 20

    def files(*contents):
        return [SimpleUploadedFile(f"{i}.{'gif' if c == gif else 'png'}", c) for i, c in enumerate(contents)]

    with pytest.raises(AppError) as err:
        services.tasks_create(user=user_a, uploaded_files=files(png, png, png))
    assert (err.value.status, err.value.code, err.value.details["file"]) == (429, "task_limit_reached", "2.png")
    assert err.value.message.startswith("“2.png”: You already have 3 tasks") and "No file of this upload was kept" \
        in err.value.message
    assert Task.objects.count() == 1 and len(stored_names()) == 1

    with pytest.raises(AppError) as err:  # within the room, a bad file still refuses the batch
        services.tasks_create(user=user_a, uploaded_files=files(png, gif, png), fit_to_cap=True)
    assert (err.value.status, err.value.code, err.value.details["file"]) == (415, "unsupported_type", "1.gif")
    assert Task.objects.count() == 1 and len(stored_names()) == 1

    created = services.tasks_create(user=user_a, uploaded_files=files(png, png, png, png), fit_to_cap=True)
    assert [t.filename for t in created.tasks] == ["0.png", "1.png"] and created.left_out == ["2.png", "3.png"]
    assert Task.objects.count() == 3 and len(stored_names()) == 3


@pytest.mark.django_db(transaction=True)
def test_the_same_page_upload_sent_again_at_the_cap_shows_the_first_tasks(user_a, settings):
    """The key is looked up before the cap: a resend of a batch that filled the cap is its replay, not a 409."""
    settings.MAX_TASKS_PER_USER = 2
    batch = [SimpleUploadedFile(f"{i}.png", SAMPLES["png"][1]) for i in range(2)]
    first = services.tasks_create(user=user_a, uploaded_files=batch, upload_key="k1", fit_to_cap=True)
    again = services.tasks_create(user=user_a, uploaded_files=batch, upload_key="k1", fit_to_cap=True)
    assert again.replayed and [t.pk for t in again.tasks] == [t.pk for t in first.tasks] and not again.left_out
    assert Task.objects.count() == 2
