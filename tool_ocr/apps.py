import sys

from django.apps import AppConfig

# Long-running processes that must not start on a bucket they cannot use (gunicorn: tool_ocr/wsgi.py).
_CHECK_STORAGE_FOR = {"db_worker", "runserver"}


class ToolOcrConfig(AppConfig):
    """The project package as an app: observability signal hooks and operator commands."""

    name = "tool_ocr"
    verbose_name = "Operations"

    def ready(self):
        from tool_ocr import signals

        signals.connect()
        if len(sys.argv) > 1 and sys.argv[1] in _CHECK_STORAGE_FOR:
            from tool_ocr.object_storage import verify_at_start_up

            verify_at_start_up()
