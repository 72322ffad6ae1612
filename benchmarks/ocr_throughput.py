"""Per-page speed, accuracy and memory of both OCR engines: the raw library/CLI against our app paths.

    DEBUG=true .venv/bin/python benchmarks/ocr_throughput.py [--pages N] [--quick] [--repeat R] [--no-e2e]

Pages: the shared sample pages (tests/data, copied from ../shared/data) at 200 dpi: the 150 dpi PNG/JPEG pages upscaled by
200/150 (LANCZOS), the PDF pages rendered by pypdfium2. Everything runs in ONE process and the
variants are interleaved page by page, because the CPU is shared: compare the ratios, not the seconds.
Paths measured per page:
  easyocr raw   Reader(...).readtext(rgb_array) with EasyOCR's defaults (the baseline)
  easyocr app   get_engine("easyocr").recognize(page) + layout.page_text (our settings)
  easyocr e2e   tasks.pipeline.processing.run_task on a one-page PNG task (storage, DB, searchable PDF too)
  tesseract raw `tesseract page.png stdout` (OMP_THREAD_LIMIT=1)
  tesseract app get_engine("tesseract").recognize(page) + layout.page_text
  tesseract e2e run_task as above
The e2e paths use a throwaway SQLite database and storage folder in a temporary directory.
Memory: the process's peak RSS while each path ran (VmHWM, reset through /proc/self/clear_refs
before each call; it includes both EasyOCR Readers and everything else loaded), how far that
peak rose above the RSS at the start of the call, and for Tesseract the peak of its own process
(GNU time). The table also goes to
benchmarks/results/ocr_throughput.txt.
"""

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / "tests" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "ocr_throughput.txt"
DPI = 200
QUICK_PAGES = ["libtasn1_p13", "libtasn1_p13_scan"]

_out = io.StringIO()


def say(*parts):
    line = " ".join(str(p) for p in parts)
    print(line, flush=True)
    _out.write(line + "\n")


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak():
    """Start a new peak-RSS window (Linux: writing 5 to clear_refs resets VmHWM)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def peak_mb() -> float:
    return _status_kb("VmHWM") / 1024


def rss_mb() -> float:
    return _status_kb("VmRSS") / 1024


def tesseract_peak_mb(path: Path) -> float | None:
    """Peak RSS of one `tesseract` run, through GNU time (a forked child's own ru_maxrss would
    count the Python parent's memory it was forked from); None without /usr/bin/time."""
    if not Path("/usr/bin/time").exists():
        return None
    out = subprocess.run(["/usr/bin/time", "-f", "%M", "tesseract", str(path), "stdout"], capture_output=True,
                         env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    return int(out.stderr.decode().strip().splitlines()[-1]) / 1024


def load_pages(dpi: int):
    """[(name, 200-dpi image, ground truth)] for every shared page."""
    import pypdfium2
    from PIL import Image

    pages = []
    for path in sorted((SHARED / "pages").glob("*.png")) + sorted((SHARED / "pages").glob("*.jpg")):
        with Image.open(path) as source:
            scale = dpi / 150
            image = source.convert("RGB").resize((round(source.width * scale), round(source.height * scale)),
                                                 Image.LANCZOS)
        pages.append((path.stem, image, path.with_suffix(".gt.txt").read_text()))
    for path in sorted((SHARED / "pdf").glob("*.pdf")):
        pdf = pypdfium2.PdfDocument(str(path))
        for index in range(len(pdf)):
            image = pdf[index].render(scale=dpi / 72).to_pil().convert("RGB")
            truth = (path.parent / f"{path.stem}.page{index + 1}.gt.txt").read_text()
            pages.append((f"{path.stem}.p{index + 1}", image, truth))
        pdf.close()
    return pages


class Timer:
    """Wall seconds and CPU seconds (this process and its children) of one call, and its peak RSS."""

    def __enter__(self):
        reset_peak()
        self.start = rss_mb()
        self.t0, self.c0 = time.perf_counter(), os.times()
        return self

    def __exit__(self, *exc):
        c1 = os.times()
        self.wall = time.perf_counter() - self.t0
        self.cpu = sum(getattr(c1, f) - getattr(self.c0, f)
                       for f in ("user", "system", "children_user", "children_system"))
        self.peak = peak_mb()
        self.grew = self.peak - self.start


def make_task(user, name: str, png: bytes, engine: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tasks import services

    return services.tasks_create(user=user, uploaded_files=[SimpleUploadedFile(name, png)], engine=engine).tasks[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=0, help="only the first N pages")
    parser.add_argument("--quick", action="store_true", help=f"two pages ({', '.join(QUICK_PAGES)}), once")
    parser.add_argument("--repeat", type=int, default=1, help="passes over the pages (memory must stay flat)")
    parser.add_argument("--no-e2e", action="store_true", help="skip the run_task paths")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="ocr-bench-"))
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tool_ocr.settings")
    os.environ.setdefault("DEBUG", "true")
    # A throwaway database and storage: never the developer's data.
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ["DATA_DIR"] = str(tmp)
    os.environ["MEDIA_ROOT"] = str(tmp / "files")
    import django

    django.setup()
    import logging

    import numpy as np
    import torch
    from django.conf import settings

    from tasks.ocr import easyocr_engine
    from tasks.ocr.engines import get_engine
    from tasks.ocr.layout import page_text
    from tests.quality import cer

    logging.disable(logging.INFO)
    warnings.simplefilter("ignore")  # torch's deprecation and pin_memory notices
    pages = load_pages(DPI)
    if args.quick:
        pages = [p for p in pages if p[0] in QUICK_PAGES]
    elif args.pages:
        pages = pages[:args.pages]
    files = {}
    for name, image, _ in pages:  # the raw CLI reads files; written outside the timings
        files[name] = tmp / f"{name}.png"
        image.convert("L").save(files[name])

    say(f"# OCR throughput, {len(pages)} page(s) at {DPI} dpi, {os.cpu_count()} CPU(s), torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch thread(s)")
    say(f"# settings: OCR_EASYOCR_CANVAS_SIZE={settings.OCR_EASYOCR_CANVAS_SIZE} "
        f"OCR_EASYOCR_BATCH_SIZE={settings.OCR_EASYOCR_BATCH_SIZE} OCR_EASYOCR_BF16={settings.OCR_EASYOCR_BF16} "
        f"OCR_THREADS={settings.OCR_THREADS}")

    # --- model load: once per process ---------------------------------------
    import easyocr
    import easyocr_en_models

    with Timer() as t:
        model_dir = easyocr_en_models.model_dir()
        raw_reader = easyocr.Reader(["en"], gpu=False, model_storage_directory=model_dir,
                                    user_network_directory=model_dir, download_enabled=False, verbose=False)
    say(f"easyocr raw Reader() load: {t.wall:.2f} s")
    with Timer() as t:
        easyocr_engine.get_reader()
    say(f"easyocr app get_reader() 1st call (load + bf16/BatchNorm folding): {t.wall:.2f} s")
    with Timer() as t:
        same = easyocr_engine.get_reader() is easyocr_engine.get_reader()
    say(f"easyocr app get_reader() 2nd call: {t.wall * 1000:.3f} ms, same Reader: {same}")
    easy, tess = get_engine("easyocr"), get_engine("tesseract")
    with Timer() as t:
        easy.recognize(pages[0][1])
    first = t.wall
    with Timer() as t:
        easy.recognize(pages[0][1])
    say(f"easyocr app, page 1: 1st recognize {first:.2f} s, 2nd {t.wall:.2f} s (1st includes one-off kernel set-up)")

    user = None
    if not args.no_e2e:
        from django.core.management import call_command

        from accounts.models import User
        from tasks.pipeline.processing import run_task

        call_command("migrate", verbosity=0)
        user = User.objects.create_user(email="bench@example.com", display_name="Benchmark")
        settings.MAX_TASKS_PER_USER = 10 ** 6

    def raw_easyocr(name, image):
        return raw_reader.readtext(np.asarray(image))

    def app(engine):
        return lambda name, image: page_text(engine.recognize(image))

    def raw_tesseract(name, image):
        out = subprocess.run(["tesseract", str(files[name]), "stdout"], capture_output=True, check=True,
                             env={**os.environ, "OMP_THREAD_LIMIT": "1"})
        return out.stdout.decode()

    def e2e(engine):
        def run(name, image):
            task = make_task(user, f"{name}.png", files[name].read_bytes(), engine)
            status = run_task(str(task.id))
            if status != "completed":
                raise RuntimeError(f"run_task {engine} {name}: {status}")
            task.refresh_from_db()
            with task.files.get(kind="result_txt").file.open("rb") as fh:
                return fh.read().decode()
        return run

    def easy_text(result):
        from tasks.ocr.base import Line

        return page_text([Line(text=t, confidence=c, box=[[float(x), float(y)] for x, y in b]) for b, t, c in result])

    paths = [("easyocr", "raw", raw_easyocr), ("easyocr", "app", app(easy))]
    if user:
        paths.append(("easyocr", "e2e", e2e("easyocr")))
    paths += [("tesseract", "raw", raw_tesseract), ("tesseract", "app", app(tess))]
    if user:
        paths.append(("tesseract", "e2e", e2e("tesseract")))

    stats = {(e, p): [] for e, p, _ in paths}
    say("")
    say(f"{'page':28} {'path':14} {'wall s':>7} {'cpu s':>7} {'CER':>7} {'peak MB':>8} {'+MB':>6} {'RSS after MB':>12}")
    for rep in range(args.repeat):
        for number, (name, image, truth) in enumerate(pages):
            # raw, app, e2e on even pages, the other way round on odd ones: no path always goes first
            order = paths if number % 2 == 0 else [p for e in ("easyocr", "tesseract")
                                                    for p in reversed([q for q in paths if q[0] == e])]
            for engine, path, fn in order:
                with Timer() as t:
                    result = fn(name, image)
                text = easy_text(result) if (engine, path) == ("easyocr", "raw") else result
                error = cer(text, truth)
                stats[(engine, path)].append((t.wall, t.cpu, error, t.peak, t.grew))
                say(f"{name:28} {engine + ' ' + path:14} {t.wall:7.2f} {t.cpu:7.2f} {error:7.4f} "
                    f"{t.peak:8.0f} {t.grew:6.0f} {rss_mb():12.0f}")

    say("")
    say(f"Per page, median over {len(pages) * args.repeat} page run(s); x raw = raw median / path median "
        "(wall and CPU time); paired = median over pages of raw/path wall time, each pair run back to back; "
        "CER = mean.")
    tess_peak = max((tesseract_peak_mb(files[name]) or 0) for name, _, _ in pages)
    say(f"{'engine':10} {'path':5} {'wall s':>7} {'x raw':>6} {'cpu s':>7} {'x raw':>6} {'paired':>6} {'CER':>7} "
        f"{'peak MB':>8} {'+MB':>6} {'tesseract MB':>12}")
    for engine, path, _ in paths:
        rows = stats[(engine, path)]
        raw = stats[(engine, "raw")]
        wall = statistics.median(r[0] for r in rows)
        cpu = statistics.median(r[1] for r in rows)
        raw_wall = statistics.median(r[0] for r in raw)
        raw_cpu = statistics.median(r[1] for r in raw)
        child = f"{tess_peak:12.0f}" if engine == "tesseract" and tess_peak else f"{'-':>12}"
        paired = statistics.median(r[0] / p[0] for r, p in zip(raw, rows))
        say(f"{engine:10} {path:5} {wall:7.2f} {raw_wall / wall:6.2f} {cpu:7.2f} {raw_cpu / cpu:6.2f} {paired:6.2f} "
            f"{statistics.mean(r[2] for r in rows):7.4f} {max(r[3] for r in rows):8.0f} "
            f"{max(r[4] for r in rows):6.0f} {child}")
    if user:
        for engine in ("easyocr", "tesseract"):
            overhead = statistics.median(e[0] / a[0] for a, e in zip(stats[(engine, "app")], stats[(engine, "e2e")]))
            say(f"{engine}: run_task end to end takes {100 * (overhead - 1):+.1f}% over the engine path "
                "(paired median; storage, database, heartbeats, searchable PDF)")
    overall = max(r[3] for rows in stats.values() for r in rows)
    say(f"Process peak RSS overall (both EasyOCR Readers loaded): {overall:.0f} MB")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(_out.getvalue())
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"(written to {RESULTS.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
