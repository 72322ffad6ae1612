"""The real engines on shared sample pages at 200 dpi: error-rate bounds, one Reader per process, sane boxes.

Bounds are the values measured here (benchmarks/ocr_throughput.py, 2 CPUs, Tesseract 5.3,
EasyOCR with our defaults: canvas 1600, batch 8, bf16) with a margin for other CPUs' numerics;
raw EasyOCR with its default settings measured 0.039 and 0.071 on the same two pages.
A broken engine path (lost lines, a page read twice, boxes in the wrong place) lands far above them.
"""

import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest
from PIL import Image

from tasks.ocr.base import Line
from tasks.ocr.engines import ENGINE_CHOICES, ENGINES, get_engine
from tasks.ocr.layout import page_text
from tasks.ocr.tesseract_engine import parse_tsv
from tests.quality import cer

pytestmark = pytest.mark.db_independent  # engines on images, no database

ROOT = Path(__file__).resolve().parents[3]
SHARED = Path(__file__).resolve().parents[2] / "data"
PAGES = ["libtasn1_p13.png", "libtasn1_p13_scan.jpg"]
EASYOCR_CER = {"libtasn1_p13.png": 0.06, "libtasn1_p13_scan.jpg": 0.09}       # measured 0.040, 0.069-0.070
TESSERACT_CER = {"libtasn1_p13.png": 0.03, "libtasn1_p13_scan.jpg": 0.035}    # measured 0.011, 0.014


@lru_cache
def page(name: str) -> Image.Image:
    """A shared 150 dpi page at 200 dpi, as the app sees an upload of that resolution."""
    with Image.open(SHARED / "pages" / name) as source:
        return source.convert("RGB").resize((round(source.width * 4 / 3), round(source.height * 4 / 3)),
                                            Image.LANCZOS)


def truth(name: str) -> str:
    return (SHARED / "pages" / name).with_suffix("").with_suffix(".gt.txt").read_text()


@lru_cache
def recognised(engine: str, name: str) -> tuple:
    return tuple(get_engine(engine).recognize(page(name)))


def test_every_engine_has_a_choice_text():
    assert [c[0] for c in ENGINE_CHOICES] == list(ENGINES)
    assert all(label and text for _, label, text in ENGINE_CHOICES)


def test_parse_tsv_groups_words_into_lines():
    tsv = "\n".join([
        "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext",
        "1\t1\t0\t0\t0\t0\t0\t0\t1000\t800\t-1\t",
        "4\t1\t1\t1\t1\t0\t10\t20\t200\t30\t-1\t",
        "5\t1\t1\t1\t1\t1\t10\t20\t80\t30\t90\tHello",
        "5\t1\t1\t1\t1\t2\t100\t22\t110\t26\t70\tworld",
        "5\t1\t1\t1\t2\t1\t10\t60\t50\t20\t95\t ",       # an empty word is dropped
        "5\t1\t2\t1\t1\t1\t10\t100\t60\t20\t-1\tnext",  # conf -1 counts as 0
    ])
    lines = parse_tsv(tsv)
    assert [(l.text, round(l.confidence, 2)) for l in lines] == [("Hello world", 0.8), ("next", 0.0)]
    assert lines[0].box == [[10, 20], [210, 20], [210, 50], [10, 50]]


@pytest.mark.ocr
@pytest.mark.parametrize("name", PAGES)
def test_easyocr_error_rate(name):
    rate = cer(page_text(list(recognised("easyocr", name))), truth(name))
    print(f"easyocr {name}: CER {rate:.4f}")
    assert rate <= EASYOCR_CER[name]


@pytest.mark.ocr
def test_easyocr_reader_is_built_once_per_process(monkeypatch):
    import easyocr

    from tasks.ocr.easyocr_engine import get_reader

    reader = get_reader()
    assert get_reader() is reader
    assert get_engine("easyocr") is get_engine("easyocr")

    def no_second_load(*args, **kwargs):
        raise AssertionError("a second Reader was built")

    monkeypatch.setattr(easyocr, "Reader", no_second_load)
    get_engine("easyocr").recognize(Image.new("L", (200, 60), 255))  # a blank image: no text, no new Reader
    assert get_reader() is reader


def test_openmp_threads_sleep_while_they_wait_unless_the_environment_says_otherwise(monkeypatch):
    """A page took 132 s instead of 72 s on cores other processes also used when torch's threads spun."""
    import sys

    from tasks.ocr.easyocr_engine import quiet_openmp_waits

    monkeypatch.delitem(sys.modules, "torch", raising=False)  # as before the worker's first page
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    quiet_openmp_waits()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # an operator's choice stays
    quiet_openmp_waits()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_the_wait_policy_is_set_before_torch_loads_openmp(monkeypatch):
    """Once torch is loaded, libgomp has read its environment: setting it then would only mislead."""
    import sys

    from tasks.ocr.easyocr_engine import quiet_openmp_waits

    monkeypatch.setitem(sys.modules, "torch", sys.modules.get("torch", object()))
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    quiet_openmp_waits()
    assert "OMP_WAIT_POLICY" not in os.environ


@pytest.mark.ocr
def test_a_worker_process_reads_easyocr_with_sleeping_openmp_threads(tmp_path):
    """The real path: a fresh process whose first EasyOCR page loads torch has OMP_WAIT_POLICY=PASSIVE."""
    code = ("import os, sys, django; django.setup(); from PIL import Image; from tasks.ocr.engines import get_engine; "
            "assert 'torch' not in sys.modules; get_engine('easyocr').recognize(Image.new('L', (200, 60), 255)); "
            "print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["PASSIVE", "True"]


@pytest.mark.ocr
@pytest.mark.parametrize("name", PAGES)
def test_tesseract_error_rate(name):
    rate = cer(page_text(list(recognised("tesseract", name))), truth(name))
    print(f"tesseract {name}: CER {rate:.4f}")
    assert rate <= TESSERACT_CER[name]


@pytest.mark.ocr
@pytest.mark.parametrize("name", PAGES)
def test_tesseract_lines_lie_inside_the_page(name):
    image = page(name)
    lines = recognised("tesseract", name)
    assert len(lines) > 20
    for line in lines:
        assert isinstance(line, Line) and line.text.strip()
        assert 0 <= line.confidence <= 1
        assert len(line.box) == 4
        assert 0 <= line.left < line.right <= image.width
        assert 0 <= line.top < line.bottom <= image.height
