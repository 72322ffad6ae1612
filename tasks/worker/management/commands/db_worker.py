"""``manage.py db_worker``: django_tasks_db's worker, warmed up first (OCR_PRELOAD_ENGINES).

Loading EasyOCR's models and running them once takes seconds; done here, before the worker
claims its first job, the first task is as fast as the tenth (issue 10, item 7).
"""

from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from tasks.ocr.warmup import warm_engines


class Command(DbWorkerCommand):
    help = DbWorkerCommand.help + " Loads the OCR engines in OCR_PRELOAD_ENGINES before taking work."

    def handle(self, *args, **options):
        self.configure_logging(options["verbosity"])
        warm_engines()
        return super().handle(*args, **options)
