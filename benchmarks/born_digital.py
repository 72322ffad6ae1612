"""Born-digital PDF pages read from their text layer against the same pages OCR'd, per page.

    DEBUG=true .venv/bin/python benchmarks/born_digital.py [--repeat R] [--engine tesseract]

Pages: tests/data/pdf/mime_spec_p8-9.pdf (born-digital, 2 pages) and its scanned copy
(mime_spec_p8-9_scanned.pdf). Paths, interleaved round by round in ONE process because the CPU is
shared (compare the ratios, not the seconds):
  text layer    documents.iter_pages(..., text_layers=True) on the born-digital PDF: PDFium's text
                and boxes (open, decide, read; no rendering)
  ocr           iter_pages on the scanned PDF (render at OCR_PDF_DPI) + the engine's recognize
  task text     run_task on the born-digital PDF (storage, database, result files, original pages kept);
                the upload (tasks_create) is made before the clock starts
  task ocr      run_task on the scanned PDF, the same way
Character error rate against the ground truth beside the PDFs. Output also goes to
benchmarks/results/born_digital_<engine>.txt.
"""

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PDFS = ROOT / "tests" / "data" / "pdf"
RESULTS = ROOT / "benchmarks" / "results" / "born_digital_{engine}.txt"
_out = io.StringIO()


def say(*parts):
    line = " ".join(str(p) for p in parts)
    print(line, flush=True)
    _out.write(line + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds over both PDFs")
    parser.add_argument("--engine", default="tesseract", help="engine for the OCR paths")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="born-digital-bench-"))
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tool_ocr.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"  # throwaway database and storage
    os.environ["DATA_DIR"] = str(tmp)
    os.environ["MEDIA_ROOT"] = str(tmp / "files")
    import django

    django.setup()
    import logging

    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    from accounts.models import User
    from tasks import services
    from tasks.intake import documents
    from tasks.ocr.engines import get_engine
    from tasks.ocr.layout import page_text
    from tasks.intake.pdf_text import TextLayerPage
    from tasks.pipeline.processing import run_task
    from tests.quality import cer

    logging.disable(logging.INFO)
    call_command("migrate", verbosity=0)
    user = User.objects.create_user(email="bench@example.com", display_name="Benchmark")
    settings.MAX_TASKS_PER_USER = 10 ** 6
    digital = (PDFS / "mime_spec_p8-9.pdf").read_bytes()
    scanned = (PDFS / "mime_spec_p8-9_scanned.pdf").read_bytes()
    truths = [(PDFS / f"mime_spec_p8-9.page{n}.gt.txt").read_text() for n in (1, 2)]
    engine = get_engine(args.engine)

    def text_layer():
        start = time.perf_counter()
        pages = list(documents.iter_pages(io.BytesIO(digital), "application/pdf", text_layers=True))
        elapsed = time.perf_counter() - start
        assert all(isinstance(p, TextLayerPage) for p in pages)
        return [p.text for p in pages], elapsed

    def ocr():
        start = time.perf_counter()
        texts = [page_text(engine.recognize(image)) for image in documents.iter_pages(io.BytesIO(scanned),
                                                                                       "application/pdf")]
        return texts, time.perf_counter() - start

    def task(content, name):
        def run():
            created = services.tasks_create(user=user, uploaded_files=[SimpleUploadedFile(name, content)],
                                            engine=args.engine).tasks[0]
            start = time.perf_counter()
            if run_task(str(created.id)) != "completed":
                raise RuntimeError(f"run_task {name} did not complete")
            elapsed = time.perf_counter() - start
            with created.files.get(kind="result_txt").file.open("rb") as fh:
                return fh.read().decode().split("\n\n\f"), elapsed
        return run

    paths = {"text layer": text_layer, "ocr": ocr, "task text": task(digital, "digital.pdf"),
             "task ocr": task(scanned, "scanned.pdf")}
    say(f"# born-digital vs OCR, 2 pages per PDF, {args.repeat} round(s), engine {args.engine}, "
        f"OCR_PDF_DPI={settings.OCR_PDF_DPI}, {os.cpu_count()} CPU(s), machine shared with other work")
    for path in paths.values():  # warm-up: imports, engine start, first PDFium call
        path()
    seconds = {name: [] for name in paths}
    rates = {name: [] for name in paths}
    for _ in range(args.repeat):
        for name, path in paths.items():
            texts, elapsed = path()
            seconds[name].append(elapsed / 2)
            rates[name].extend(cer(text, truth) for text, truth in zip(texts, truths, strict=True))
    say(f"{'path':<12} {'per page (median)':>18} {'per page (min)':>15} {'CER':>8}")
    for name in paths:
        say(f"{name:<12} {statistics.median(seconds[name]) * 1000:>15.1f} ms {min(seconds[name]) * 1000:>12.1f} ms "
            f"{statistics.mean(rates[name]):>8.4f}")
    read, ocred = statistics.median(seconds["text layer"]), statistics.median(seconds["ocr"])
    task_read, task_ocred = statistics.median(seconds["task text"]), statistics.median(seconds["task ocr"])
    say(f"text layer is {ocred / read:.0f}x faster than OCR per page; whole task {task_ocred / task_read:.0f}x faster")
    results = Path(str(RESULTS).format(engine=args.engine))
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(_out.getvalue())


if __name__ == "__main__":
    main()
