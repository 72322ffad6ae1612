"""``manage.py db_worker``: django_tasks_db's worker, warmed up first (OCR_PRELOAD_ENGINES), and made to
outlive the database (tasks.worker.resilient: it waits and reconnects instead of exiting).

Loading EasyOCR's models and running them once takes seconds; done here, before the worker
claims its first job, the first task is as fast as the tenth (issue 10, item 7).
"""

from django.db import connection
from django_tasks_db.management.commands import db_worker as base
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from tasks.ocr.warmup import warm_engines
from tasks.worker.resilient import DATABASE_ERRORS, ResilientWorker


class Command(DbWorkerCommand):
    help = (DbWorkerCommand.help + " Loads the OCR engines in OCR_PRELOAD_ENGINES before taking work; waits and "
            "reconnects (with backoff) when the database goes away, and goes on with its queue when it is back.")

    def handle(self, *args, **options):
        self.configure_logging(options["verbosity"])
        try:  # a database made with the wrong character set stops the worker here, with one line (manage.py)
            connection.ensure_connection()
        except DATABASE_ERRORS:
            pass  # down now: the worker waits for it (ResilientWorker)
        warm_engines()
        base.Worker = ResilientWorker  # the base command builds its Worker by this name
        return super().handle(*args, **options)
