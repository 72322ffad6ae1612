"""A bad setting stops start-up with a message naming the variable and what it accepts."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from tool_ocr.config import Config, ConfigError


def _cfg(**env):
    return Config(), env


@pytest.fixture
def cfg(monkeypatch):
    def make(**env):
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return Config()
    return make


@pytest.mark.parametrize("value", ["abc", "-1", "0", "nan"])
def test_bad_timeout_is_refused(cfg, value):
    with pytest.raises(ConfigError) as err:
        cfg(EXTERNAL_AUTH_TIMEOUT=value).float("EXTERNAL_AUTH_TIMEOUT", "5", minimum=0.1, maximum=120)
    assert "EXTERNAL_AUTH_TIMEOUT" in str(err.value) and "number from 0.1 to 120" in str(err.value)


@pytest.mark.parametrize("value", ["1abc_", "tool-ocr_", " 9 ", "x" * 40, "drop table;"])
def test_bad_prefix_is_refused(cfg, value):
    with pytest.raises(ConfigError) as err:
        cfg(DATABASE_TABLE_PREFIX=value).table_prefix("DATABASE_TABLE_PREFIX", "tool_ocr_")
    assert "DATABASE_TABLE_PREFIX" in str(err.value) and "starts with a letter or an underscore" in str(err.value)


def test_empty_means_the_default(cfg):
    c = cfg(DATABASE_TABLE_PREFIX="", EXTERNAL_AUTH_TIMEOUT="  ")
    assert c.table_prefix("DATABASE_TABLE_PREFIX", "tool_ocr_") == "tool_ocr_"
    assert c.float("EXTERNAL_AUTH_TIMEOUT", "5", minimum=0.1) == 5.0


def test_good_values_are_read(cfg):
    c = cfg(EXTERNAL_AUTH_TIMEOUT="2.5", DATABASE_TABLE_PREFIX="_acme_", ENABLE_TASK_HISTORY="false",
            MAX_TASKS_PER_USER="7")
    assert c.float("EXTERNAL_AUTH_TIMEOUT", "5", minimum=0.1) == 2.5
    assert c.table_prefix("DATABASE_TABLE_PREFIX", "tool_ocr_") == "_acme_"
    assert c.bool("ENABLE_TASK_HISTORY", "true") is False
    assert c.int("MAX_TASKS_PER_USER", "20", minimum=1) == 7


@pytest.mark.parametrize("name,value,expected", [
    ("EXTERNAL_AUTH_TIMEOUT", "abc", "EXTERNAL_AUTH_TIMEOUT='abc' is not valid: use a number from 0.1 to 120."),
    ("EXTERNAL_AUTH_TIMEOUT", "-1", "EXTERNAL_AUTH_TIMEOUT='-1' is not valid: use a number from 0.1 to 120."),
    ("DATABASE_TABLE_PREFIX", "9x", "DATABASE_TABLE_PREFIX='9x' is not valid"),
    ("MAX_TASKS_PER_USER", "many", "MAX_TASKS_PER_USER='many' is not valid: use a whole number"),
    ("ENABLE_TASK_HISTORY", "maybe", "ENABLE_TASK_HISTORY='maybe' is not valid: use true or false."),
    ("DATABASE_URL", "postgres://x/y", "DATABASE_URL='postgres://x/y' is not valid"),
    ("STATIC_URL", "static/", "STATIC_URL='static/' is not valid: use a path that starts and ends with /"),
    ("STATIC_URL", "/ocr/static", "STATIC_URL='/ocr/static' is not valid: use a path that starts and ends with /"),
])
def test_start_up_stops_with_a_clear_message(name, value, expected):
    env = dict(os.environ, **{name: value})
    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=settings.BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert expected in done.stderr
    assert "Traceback" not in done.stderr
