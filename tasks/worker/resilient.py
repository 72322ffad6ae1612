"""A db_worker that outlives the database.

django-tasks-db's worker exits on the first database error that is not "locked", even
when idle, and with it the reaper (a periodic job run by the workers). This worker
instead waits and reconnects, doubling the wait up to WORKER_DB_RETRY_MAX_WAIT (each
attempt logged; each outage counted in its WorkerPresence row, read by /metrics), and
goes on with its queue when the database is back. A task interrupted by the outage is
put back in the queue at once (without using up its one re-queue: the document was not
at fault); if that cannot be done, the reaper does it within TASK_HEARTBEAT_TIMEOUT +
REAPER_INTERVAL.

It also shows life every few seconds, busy or idle (WorkerPresence.last_seen_at), so
/readyz tells a live worker from a dead one whatever stopped it, and it removes the
temporary files that killed workers left on this host (tasks.pipeline.worker_temp).
"""

import logging
import os
import random
import socket
import threading
import time

from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connections
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker

from tasks.pipeline import processing, worker_temp
from tasks.pipeline.processing import drop_connections

log = logging.getLogger("tool_ocr.worker")

DATABASE_ERRORS = (OperationalError, InterfaceError)


def presence_interval() -> float:
    """Seconds between signs of life: well inside READYZ_WORKER_MAX_AGE."""
    return max(1.0, min(10.0, settings.READYZ_WORKER_MAX_AGE / 4))


class Presence(threading.Thread):
    """Writes this worker's last_seen_at every few seconds; quietly skips while the database is away."""

    def __init__(self, worker_id: str):
        super().__init__(name="worker-presence", daemon=True)
        self.worker_id = worker_id
        self.stopping = threading.Event()

    def beat(self) -> bool:
        from tasks.models import WorkerPresence

        now = timezone.now()
        try:
            if not WorkerPresence.objects.filter(pk=self.worker_id).update(last_seen_at=now):
                WorkerPresence.objects.create(worker_id=self.worker_id, hostname=socket.gethostname()[:255],
                                              pid=os.getpid(), started_at=now, last_seen_at=now)
            return True
        except DATABASE_ERRORS:
            drop_connections()
            return False
        except Exception:  # never let the presence thread die
            log.exception("could not record the worker's presence")
            return False

    def record_outage(self, seconds: float) -> None:
        from django.db.models import F

        from tasks.models import WorkerPresence

        try:
            self.beat()
            WorkerPresence.objects.filter(pk=self.worker_id).update(
                db_outages=F("db_outages") + 1, db_outage_seconds=F("db_outage_seconds") + seconds,
                last_db_outage_at=timezone.now())
        except Exception as exc:  # only a figure: the worker goes on
            log.warning("could not record the database outage: %s", exc)

    def run(self):
        try:
            self.beat()
            while not self.stopping.wait(presence_interval()):
                self.beat()
        finally:
            drop_connections()

    def stop(self):
        self.stopping.set()
        self.join(timeout=5)
        try:
            from tasks.models import WorkerPresence

            WorkerPresence.objects.filter(pk=self.worker_id).delete()
        except Exception:  # the database may be the reason we stop
            pass


class ResilientWorker(Worker):
    def run(self) -> None:
        try:
            folder, _removed = worker_temp.claim()
            log.info("worker temporary folder: %s", folder)
        except OSError as exc:  # TMPDIR unwritable: tasks fail with a message that says so, the worker lives
            log.error("the temporary folder cannot take files (%s); tasks will fail until it can", exc)
        self.presence = Presence(self.worker_id)
        self.presence.start()
        try:
            while self.running:
                try:
                    return super().run()
                except DATABASE_ERRORS as exc:
                    if not self.running:
                        return None
                    self.startup_delay = False
                    self._wait_for_database(exc)
                    self._recover_interrupted()
        finally:
            self.presence.stop()
            worker_temp.release()

    def run_task(self, db_task_result) -> None:
        try:
            super().run_task(db_task_result)
        finally:
            pending = _interrupted()
        if pending:
            self._recover_interrupted()

    def _wait_for_database(self, exc) -> None:
        """Sleep and reconnect until a query works; each failed try is logged, the outage recorded."""
        started, wait, attempt = time.monotonic(), 0.5, 0
        log.warning("database unavailable (%s: %s); the worker waits for it", type(exc).__name__, exc,
                    extra={"worker_id": self.worker_id})
        while self.running:
            drop_connections()
            try:
                close_old_connections()
                with connections["default"].cursor() as cursor:
                    cursor.execute("SELECT 1")
                break
            except DATABASE_ERRORS as again:
                attempt += 1
                pause = wait * (1 + random.random() / 4)  # noqa: S311 - jitter, not security
                log.warning("database still unavailable after %.0f s (try %d: %s); next try in %.1f s",
                            time.monotonic() - started, attempt, again, pause, extra={"worker_id": self.worker_id})
                time.sleep(pause)
                wait = min(wait * 2, settings.WORKER_DB_RETRY_MAX_WAIT)
        outage = time.monotonic() - started
        log.warning("database back after %.1f s; the worker goes on with its queue", outage,
                    extra={"worker_id": self.worker_id, "outage_seconds": round(outage, 1)})
        self.presence.record_outage(outage)

    def _recover_interrupted(self) -> None:
        """Put back in the queue the task an outage interrupted (the reaper would, but later)."""
        from tasks.reaper import requeue_after_outage

        for task_id, run_id in _interrupted(clear=True):
            try:
                if requeue_after_outage(task_id=task_id, worker_run_id=run_id):
                    log.warning("re-queued the task the database outage interrupted", extra={"task_id": task_id})
            except DATABASE_ERRORS:
                drop_connections()
                log.warning("could not re-queue an interrupted task yet; the reaper will",
                            extra={"task_id": task_id})


def _interrupted(clear: bool = False) -> list:
    found = list(processing.INTERRUPTED)
    if clear:
        processing.INTERRUPTED.clear()
    return found
