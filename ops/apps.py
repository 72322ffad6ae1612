import sys

from django.apps import AppConfig

# Long-running processes that must not start on a bucket they cannot use (gunicorn: tool_ocr/wsgi.py).
_CHECK_STORAGE_FOR = {"db_worker", "runserver"}


class OpsConfig(AppConfig):
    """Operating the site: observability signal hooks, probes, metrics, the schema tools and their commands."""

    name = "ops"
    verbose_name = "Operations"

    def ready(self):
        from ops import signals

        signals.connect()
        if len(sys.argv) > 1 and sys.argv[1] in _CHECK_STORAGE_FOR:
            from tool_ocr.object_storage import verify_at_start_up

            verify_at_start_up()
