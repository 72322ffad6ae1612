"""WSGI entry point (gunicorn tool_ocr.wsgi)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tool_ocr.settings")
application = get_wsgi_application()
