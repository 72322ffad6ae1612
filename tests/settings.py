"""The suite's settings: the documented defaults plus DEBUG, never the developer's own .env.

An old .env (OCR_ENGINE=easyocr, MAX_TASKS_PER_USER=20) once changed what tests saw, so the suite
reads tests/test.env instead; processes the tests start inherit the same choice.
"""

import os
from pathlib import Path

os.environ.setdefault("TOOL_OCR_ENV_FILE", str(Path(__file__).with_name("test.env")))

from tool_ocr.settings import *  # noqa: E402,F401,F403
