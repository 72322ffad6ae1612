"""No cold start: a worker loads its OCR engines (OCR_PRELOAD_ENGINES) before it takes work."""

import pytest

from tasks.ocr import easyocr_engine
from tasks.ocr.warmup import warm_engines
from tests.tasks.worker_processes import WorkerDatabase
from tool_ocr.config import Config, ConfigError

# db_independent: settings parsing, an engine warmed in this process, and a real worker on a SQLite file of its
# own (WorkerDatabase(mariadb=False)) whatever the suite's database: the MariaDB pass would run the same again.
pytestmark = pytest.mark.db_independent


def _cfg(monkeypatch, **env):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Config()


@pytest.mark.parametrize("raw, expected", [("all", ["easyocr", "tesseract"]), ("none", []),
                                           ("tesseract", ["tesseract"]), (" EasyOCR , tesseract", ["easyocr", "tesseract"])])
def test_preload_setting_is_read(monkeypatch, raw, expected):
    assert _cfg(monkeypatch, OCR_PRELOAD_ENGINES=raw).preload_engines("OCR_PRELOAD_ENGINES", "all") == expected


@pytest.mark.parametrize("name, raw, message", [
    ("OCR_PRELOAD_ENGINES", "gpt", "OCR_PRELOAD_ENGINES='gpt' is not valid: use all, none, or some of easyocr, tesseract."),
    ("OCR_DEFAULT_LANGUAGE", "klingon", "OCR_DEFAULT_LANGUAGE='klingon' is not valid: “klingon” is not a language tag"),
])
def test_bad_ocr_settings_stop_start_up_with_a_clear_message(monkeypatch, name, raw, message):
    config = _cfg(monkeypatch, **{name: raw})
    with pytest.raises(ConfigError) as err:
        config.preload_engines(name, "all") if name == "OCR_PRELOAD_ENGINES" else config.language(name, "en")
    assert str(err.value).startswith(message)


def test_default_language_is_stored_canonically(monkeypatch):
    assert _cfg(monkeypatch, OCR_DEFAULT_LANGUAGE="zh-tw+EN").language("OCR_DEFAULT_LANGUAGE", "en") == "zh-Hant+en"


def test_a_real_worker_process_loads_its_engines_before_it_takes_work(tmp_path):
    """`manage.py db_worker` as a process: the engines' line comes before django_tasks_db's "Starting worker"."""
    db = WorkerDatabase(tmp_path, mariadb=False)
    try:
        db.migrate()
        log = tmp_path / "worker.log"
        proc = db.start_worker("--batch", log=log, OCR_PRELOAD_ENGINES="tesseract", LOG_FORMAT="plain")
        assert proc.wait(timeout=300) == 0
        lines = log.read_text().splitlines()
        loaded = next(i for i, l in enumerate(lines) if "OCR engines loaded in" in l and "tesseract" in l)
        started = next(i for i, l in enumerate(lines) if "Starting worker" in l)
        assert loaded < started, lines
    finally:
        db.close()


@pytest.mark.ocr
def test_warming_up_builds_the_easyocr_reader_once(monkeypatch):
    timings = warm_engines(["easyocr", "tesseract"])
    assert set(timings) == {"easyocr", "tesseract"} and easyocr_engine._reader is not None
    reader = easyocr_engine._reader
    warm_engines(["easyocr"])
    assert easyocr_engine._reader is reader  # the same Reader serves every task of the process
