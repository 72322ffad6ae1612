"""The suite pins its own environment: a developer's .env must not change what tests see."""

import os
from pathlib import Path

from django.conf import settings


def test_suite_reads_its_own_env_file_not_the_developers():
    assert Path(os.environ["TOOL_OCR_ENV_FILE"]) == Path(__file__).parents[1] / "test.env"
    assert os.environ["DJANGO_SETTINGS_MODULE"] == "tests.settings"


def test_suite_sees_the_documented_defaults():
    # The values .env.example documents; an old .env once set easyocr and 20 here.
    assert settings.OCR_ENGINE == "tesseract"
    assert settings.MAX_TASKS_PER_USER == 100
