"""benchmarks/load.py's gunicorn: the production settings, with the two floor views added (load_urls)."""

from tool_ocr.settings import *  # noqa: F401,F403

ROOT_URLCONF = "benchmarks.load_urls"
