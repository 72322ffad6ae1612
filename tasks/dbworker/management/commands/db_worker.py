"""``manage.py db_worker``: django-tasks-db's worker, made to outlive the database (tasks.dbworker.worker)."""

from django_tasks_db.management.commands import db_worker as base

from tasks.dbworker.worker import ResilientWorker


class Command(base.Command):
    help = ("Run the OCR worker: it waits and reconnects (with backoff) when the database goes away, "
            "and goes on with its queue when it is back.")

    def handle(self, *args, **options):
        base.Worker = ResilientWorker  # the base command builds its Worker by this name
        return super().handle(*args, **options)
