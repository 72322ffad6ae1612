"""purge_user and cleanup_tasks deleting many of an owner's tasks while tasks of the same owner finish, on
MariaDB, with real connections in threads, many rounds: no deadlock and no lock wait timeout on either side
(the deleter is not retried: a cleanup or purge that died half-way would be the operator's problem), and
afterwards every derived row agrees with its source (text index counts, summaries, storage, file-name
pieces) and the files on disk are exactly the files the rows name.

It guards the order both sides take their locks in: task rows, then the text (task_term_counts, in key
order), then the files (storage rows), then the task (summaries): tasks.pipeline.transitions.task_complete
stores the text before the files for this; a delete goes text, files, task (tasks.maintenance.cleanup).
"""

import os
import random
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from tasks.maintenance.cleanup import cleanup_tasks, purge_user
from tasks.models import Task, TaskFile
from tasks.pipeline import transitions
from tests.tasks.history.test_names import _from_tasks, _rows
from tests.tasks.history.test_summary import _both_match, _storage_sums
from tests.tasks.history.test_term_counts import _check, _completed, _text, text_task
from tests.tasks.history_helpers import add_file, make_task

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif("connection.vendor != 'mysql'", reason="row locks and deadlocks: MariaDB's")]

ROUNDS = int(os.environ.get("LOCK_ORDER_ROUNDS", "8"))
OLD, RUNNING, FINISHERS = 24, 6, 2


def _old_task(user, rng, days=40):
    task = text_task(user, _text(rng, 14), status="completed", created_at=timezone.now() - timedelta(days=days))
    add_file(task, TaskFile.Kind.RESULT_TXT, b"text", "result.txt", "doc.txt")
    return task


def _files_on_disk() -> set[str]:
    root = Path(settings.MEDIA_ROOT)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _round(user, other, rng, deleter_name):
    for _ in range(OLD):
        _old_task(user, rng)
    running = [make_task(user, filename=f"run{i}.png", status="processing", worker_id=f"w{i}", with_files=True)
               for i in range(RUNNING)]
    start = threading.Barrier(FINISHERS + 1)
    errors, stopped = [], []

    def deleter():
        try:
            start.wait()
            if deleter_name == "cleanup_tasks":
                outcome = cleanup_tasks(days=30, batch_size=4)
            else:
                outcome = purge_user(user=user, keep_account=True, batch_size=4)
            assert not outcome.errors, outcome.errors
        except Exception as exc:  # noqa: BLE001 - reported below, named
            errors.append((deleter_name, repr(exc)))
        finally:
            connections.close_all()

    def finisher(tasks, seed):
        finisher_rng = random.Random(seed)
        try:
            start.wait()
            for task in tasks:
                try:
                    _completed(task, _text(finisher_rng, 14))
                except transitions.TaskNoLongerProcessing:
                    stopped.append(task.pk)  # purge_user took it first: nothing of it may stay
        except Exception as exc:  # noqa: BLE001
            errors.append((f"task_complete {seed}", repr(exc)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deleter)]
    threads += [threading.Thread(target=finisher, args=(running[i::FINISHERS], rng.random()))
                for i in range(FINISHERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread still waits: a lock never released"
    return errors, stopped


def test_the_delete_locks_every_count_row_its_texts_change(user_a):
    from django.db import transaction

    from tasks.history import text_index
    from tasks.models import TaskTermCount, TaskText

    rng = random.Random(5)
    tasks = [_old_task(user_a, rng) for _ in range(3)]
    keys = {(user_a.pk, lcp, term) for text in TaskText.objects.all() for lcp, term in text_index.term_rows(text.terms)}
    assert keys and keys <= set(TaskTermCount.objects.values_list("user_id", "lcp", "term"))
    with transaction.atomic():
        assert text_index.counts_lock_for_delete([t.pk for t in tasks]) == len(keys)


@pytest.mark.parametrize("deleter_name", ["cleanup_tasks", "purge_user"])
def test_deleting_many_while_tasks_of_the_same_owner_finish(user_a, user_b, deleter_name):
    rng = random.Random(deleter_name)
    for _ in range(3):  # another owner's recent tasks, which neither may touch
        _old_task(user_b, rng, days=1)
    theirs = set(Task.objects.filter(user=user_b).values_list("pk", flat=True))
    before = _latest_deadlock()
    for round_number in range(ROUNDS):
        errors, stopped = _round(user_a, user_b, rng, deleter_name)
        assert not errors, (round_number, errors)
        mine = Task.objects.filter(user=user_a)
        if deleter_name == "cleanup_tasks":  # the old ones went; every running one finished
            assert not mine.filter(created_at__lt=timezone.now() - timedelta(days=30)).exists()
            assert not stopped and not mine.filter(status="processing").exists()
        else:  # purge_user goes on until none is left, those finished meanwhile included
            assert not mine.exists(), (round_number, list(mine.values_list("status", flat=True)))
        assert set(Task.objects.filter(user=user_b).values_list("pk", flat=True)) == theirs
        _check(user_a, user_b)  # task_term_counts equals the texts
        assert _both_match(), round_number  # summaries by status and by hour equal GROUP BY
        grouped, kept = _storage_sums()
        assert grouped == kept, round_number
        assert _rows() == _from_tasks(), round_number  # the file-name pieces
        named = set(TaskFile.objects.values_list("file", flat=True))
        assert _files_on_disk() == named, round_number  # no file without its row, no row without its file
    latest = _latest_deadlock()  # the server saw none in this database (also none a retry would have hidden)
    assert latest == before or connection.settings_dict["NAME"] not in latest, latest


def _latest_deadlock() -> str:
    """The server's note of its latest deadlock (any database: the server is shared), or ""."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW ENGINE INNODB STATUS")
        status = cursor.fetchone()[2]
    return status.split("LATEST DETECTED DEADLOCK", 1)[1].split("TRANSACTIONS\n", 1)[0] if (
        "LATEST DETECTED DEADLOCK" in status) else ""


def test_a_deletes_count_rows_are_locked_in_their_key_order_in_every_script(user_a):
    """The rows counts_lock_for_delete reads (and locks) come in the primary key's order, utf8mb4_bin (code point
    order, as the triggers take theirs), not the connection's collation: Ukrainian і and Serbian ђ sort before
    Cyrillic а in utf8mb4_general_ci but after it by code point, so a delete of such texts would lock in another
    order than a finishing task and could deadlock with it again."""
    from django.db import transaction
    from django.test.utils import CaptureQueriesContext

    from tasks.history import text_index

    texts = ["абетка ірка ђак џеп љубав zebra œuvre łódź 中文字 ärger", "інший ђорђе абв zulu ёлка"]
    tasks = [text_task(user_a, text) for text in texts]
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        locked = text_index.counts_lock_for_delete([t.pk for t in tasks])
    [statement] = [q["sql"] for q in captured.captured_queries if "FOR UPDATE" in q["sql"]]
    assert statement.count("SELECT c.texts FROM") == 1
    with connection.cursor() as cursor:  # the same statement, naming the rows it reads, in the order it reads them
        cursor.execute(statement.replace("SELECT c.texts FROM", "SELECT c.user_id, c.lcp, c.term FROM")
                       .replace(" FOR UPDATE", ""))
        order = [tuple(row) for row in cursor.fetchall()]
    assert len(order) == locked > 10
    assert order == sorted(order), "count rows locked out of their key order"
