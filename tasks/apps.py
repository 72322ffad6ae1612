import sys

from django.apps import AppConfig

# Long-running processes that must not start on a bucket they cannot use (gunicorn: tool_ocr/wsgi.py).
_CHECK_STORAGE_FOR = {"db_worker", "runserver"}


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = "OCR tasks"

    def ready(self):
        from tasks.history import signals  # noqa: F401  (keeps TaskStorage in step with TaskFile)

        if len(sys.argv) > 1 and sys.argv[1] in _CHECK_STORAGE_FOR:
            from tasks.files.object_storage import verify_at_start_up

            verify_at_start_up()
