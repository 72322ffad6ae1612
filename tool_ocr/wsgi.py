"""WSGI entry point (gunicorn tool_ocr.wsgi)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tool_ocr.settings")
application = get_wsgi_application()

from tasks.files.object_storage import verify_at_start_up  # noqa: E402

verify_at_start_up()  # a missing bucket or refused credentials stop the web process with one line


def _check_database() -> None:
    """A MySQL/MariaDB database made with the wrong character set stops the web process with one line
    (tool_ocr/db_backends/mysql/charset.py); a database down now is checked on its first connection."""
    from django.db import OperationalError, connection

    if connection.vendor != "mysql":
        return
    try:
        connection.ensure_connection()
    except OperationalError:
        return
    finally:
        connection.close()  # the request threads open their own


_check_database()
