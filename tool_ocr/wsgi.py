"""WSGI entry point (gunicorn tool_ocr.wsgi)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tool_ocr.settings")
application = get_wsgi_application()

from tasks.files.object_storage import verify_at_start_up  # noqa: E402

verify_at_start_up()  # a missing bucket or refused credentials stop the web process with one line
