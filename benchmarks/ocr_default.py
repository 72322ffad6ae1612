"""Which engine serves people best: character error rate and seconds per page, per kind of page, per engine.

    DEBUG=true .venv/bin/python benchmarks/ocr_default.py [--engines tesseract,easyocr,default] [--cases a,b]
                                                          [--worker-start] [--first-task] [--no-real]

Pages are made here (tests/pagegen.py: text rendered with Debian's DejaVu and Noto CJK fonts) plus the
shared real sample page (tests/data/pages/libtasn1_p13*, pdftotext ground truth):
  clean       the page as a 150 dpi PNG
  scanned     grey paper, blur, noise, JPEG quality 60 (the real page: its own _scan.jpg)
  photo       a phone photo: perspective, light falling off by 45% across the page, blur, noise, a desk around
  rot90/180/270  the clean page fed turned (PNG, no EXIF)
  exif        a JPEG stored turned 90° with EXIF orientation 6 ("turn me")
  skew6       the clean page turned 6° (as a page laid crooked on a scanner)
  chinese     a Traditional Chinese memo (zh-Hant; Noto Sans CJK TC), Tesseract only (EasyOCR's offline
              weights read English)
Each page goes through the app's own path: tasks.intake.documents.iter_pages (EXIF) -> tasks.pipeline.processing.read_page
(straightening, orientation check, the engine) -> layout.page_text, as a worker reads it. "default" is the
engine new tasks get (OCR_ENGINE, resolved per language). The machine is shared (2 cores, other jobs
running): compare engines within one run, not across runs. Also prints what Tesseract's orientation
detection (OSD) costs per page, with --worker-start how long `manage.py db_worker` takes to start
with its engines loaded, and with --first-task what EasyOCR's first page costs in a fresh process, cold
and warmed up as the worker does at start. Output also goes to benchmarks/results/ocr_default.txt.
"""

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "ocr_default.txt"
_out = io.StringIO()


def say(*parts):
    line = " ".join(str(p) for p in parts)
    print(line, flush=True)
    _out.write(line + "\n")


def build_cases(real: bool) -> dict:
    """{case: [(label, file bytes, mime type, ground truth, language)]}."""
    from PIL import Image

    from tests import pagegen as g

    pages = []
    letter, letter_truth = g.text_page()
    pages.append(("letter", letter, letter_truth, None))
    if real:
        data = ROOT / "tests" / "data" / "pages"
        sample = Image.open(data / "libtasn1_p13.png").convert("L")
        pages.append(("libtasn1_p13", sample, (data / "libtasn1_p13.gt.txt").read_text(),
                      (data / "libtasn1_p13_scan.jpg").read_bytes()))

    def png(image):
        return g.png_bytes(image)

    def jpeg(image, quality=85):
        buf = io.BytesIO()
        image.convert("RGB").save(buf, "JPEG", quality=quality, dpi=(150, 150))
        return buf.getvalue()

    cases = {k: [] for k in ("clean", "scanned", "photo", "rot90", "rot180", "rot270", "exif", "skew6", "chinese")}
    for label, image, truth, scan_bytes in pages:
        cases["clean"].append((label, png(image), "image/png", truth, "en"))
        cases["scanned"].append((label, scan_bytes or jpeg(g.scanned(image), 60), "image/jpeg", truth, "en"))
        cases["photo"].append((label, jpeg(g.photographed(image)), "image/jpeg", truth, "en"))
        for degrees in (90, 180, 270):
            cases[f"rot{degrees}"].append((label, png(g.turned(image, degrees)), "image/png", truth, "en"))
        cases["exif"].append((label, g.exif_jpeg(image, 6), "image/jpeg", truth, "en"))
        cases["skew6"].append((label, png(g.skewed(image, 6)), "image/png", truth, "en"))
    zh, zh_truth = g.chinese_page()
    cases["chinese"].append(("memo", png(zh), "image/png", zh_truth, "zh-Hant"))
    return cases


def read(data: bytes, mime: str, engine: str, language: str):
    """(text, seconds, PageRead) of a one-page document through the worker's own path."""
    from tasks.intake import documents
    from tasks.ocr import languages
    from tasks.ocr.layout import page_text
    from tasks.pipeline.processing import read_page

    t0, c0 = time.perf_counter(), cpu_seconds()
    page = next(documents.iter_pages(io.BytesIO(data), mime))
    result = read_page(page, engine, language)
    text = page_text(result.lines)
    if languages.is_cjk(language):
        text = languages.drop_cjk_spaces(text)
    return text, time.perf_counter() - t0, cpu_seconds() - c0, result


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the tesseract runs): steadier than wall time
    on a machine other jobs share."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def osd_cost(cases) -> list[float]:
    from tasks.intake import documents
    from tasks.ocr.orientation import detect_rotation

    seconds = []
    for case in ("clean", "rot90", "rot180", "rot270", "chinese"):
        for _label, data, mime, _truth, _lang in cases[case]:
            page = next(documents.iter_pages(io.BytesIO(data), mime))
            t0, c0 = time.perf_counter(), cpu_seconds()
            degrees, confidence = detect_rotation(page)
            seconds.append(cpu_seconds() - c0)
            say(f"  OSD {case:8} -> turn {degrees:3}° clockwise (confidence {confidence:.1f}) "
                f"in {seconds[-1]:.2f} CPU s ({time.perf_counter() - t0:.2f} s wall)")
    return seconds


def worker_start() -> None:
    """Seconds from launching `manage.py db_worker` (engines preloaded) until it would take work."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp}/w.sqlite3", "DEBUG": "true",
               "DATA_DIR": tmp, "MEDIA_ROOT": f"{tmp}/files", "TOOL_OCR_ENV_FILE": f"{tmp}/no.env",
               "LOG_FORMAT": "plain", "LOG_LEVEL": "INFO"}
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        for preload in ("none", "tesseract", "all"):
            t0 = time.perf_counter()
            done = subprocess.run([sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay",
                                   "--no-reload", "--interval", "0"], cwd=ROOT, capture_output=True, text=True,
                                  env={**env, "OCR_PRELOAD_ENGINES": preload})
            total = time.perf_counter() - t0
            loaded = [l for l in (done.stdout + done.stderr).splitlines() if "OCR engines loaded" in l]
            say(f"  worker start, OCR_PRELOAD_ENGINES={preload:9}: {total:5.1f} s to ready and exit"
                f" (exit {done.returncode}){'; ' + loaded[0].split('OCR engines', 1)[1] if loaded else ''}")


FIRST_TASK = """
import os, resource, sys, time
sys.path.insert(0, {root!r})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tool_ocr.settings")
import django
django.setup()
from tasks.ocr.engines import get_engine
from tasks.ocr.warmup import warm_engines
from tests import pagegen
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
page = pagegen.text_page(pagegen.ENGLISH[:400], page=(1275, 500))[0]
if {warm}:
    warm_engines(["easyocr"])
out = []
for _ in range(2):
    t0, c0 = time.perf_counter(), cpu()
    get_engine("easyocr").recognize(page, language="en")
    out.append("%.2f s wall / %.2f s CPU" % (time.perf_counter() - t0, cpu() - c0))
print(" ; ".join(out))
"""


def first_task() -> None:
    """EasyOCR's first and second page in a fresh process, without and with the start-up warm-up."""
    for warm in (False, True):
        done = subprocess.run([sys.executable, "-c", FIRST_TASK.format(root=str(ROOT), warm=warm)], cwd=ROOT,
                              capture_output=True, text=True, env={**os.environ, "DEBUG": "true"})
        say(f"  EasyOCR in a fresh worker, {'warmed up at start' if warm else 'cold':18}: first page, second page: "
            f"{done.stdout.strip() or done.stderr[-300:]}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--engines", default="tesseract,easyocr,default")
    parser.add_argument("--cases", default="")
    parser.add_argument("--no-real", action="store_true", help="only the generated pages (faster)")
    parser.add_argument("--worker-start", action="store_true")
    parser.add_argument("--first-task", action="store_true", help="EasyOCR's first page cold and warmed up")
    parser.add_argument("--output", default=str(RESULTS))
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tool_ocr.settings")
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()
    from django.conf import settings

    from tasks.ocr import engines as engine_registry
    from tests.quality import cer

    cases = build_cases(real=not args.no_real)
    if args.cases:
        cases = {k: v for k, v in cases.items() if k in args.cases.split(",")}
    wanted = args.engines.split(",")
    say(f"# OCR engines by kind of page ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, shared machine;"
        f" default OCR_ENGINE={settings.OCR_ENGINE})")
    rows = []
    for case, pages in cases.items():
        for engine in wanted:
            name = settings.OCR_ENGINE if engine == "default" else engine
            language = pages[0][4]
            if engine != "default" and name not in engine_registry.engines_for(language):
                rows.append((case, engine, None, None, "does not read " + language))
                say(f"{case:8} {engine:10} n/a (does not read {language})")
                continue
            errors, seconds, cpus, notes = [], [], [], []
            for label, data, mime, truth, lang in pages:
                text, took, cpu, result = read(data, mime, name, lang)
                errors.append(cer(text, truth))
                seconds.append(took)
                cpus.append(cpu)
                notes.append(f"{label}: {result.engine}, {'; '.join(result.turned) or 'as is'}")
                say(f"{case:8} {engine:10} {label:14} CER {errors[-1]:.4f}  {took:6.2f} s wall {cpu:6.2f} s CPU"
                    f"  ({notes[-1]})")
            rows.append((case, engine, statistics.mean(errors), (statistics.mean(seconds), statistics.mean(cpus)),
                         " | ".join(notes)))
    say("\n| case | " + " | ".join(f"{e} CER | {e} s/page (wall / CPU)" for e in wanted) + " |")
    say("|---|" + "---|---|" * len(wanted))
    for case in cases:
        cells = []
        for engine in wanted:
            row = next(r for r in rows if r[0] == case and r[1] == engine)
            cells += (["n/a", "n/a"] if row[2] is None
                      else [f"{100 * row[2]:.2f}%", f"{row[3][0]:.2f} / {row[3][1]:.2f}"])
        say(f"| {case} | " + " | ".join(cells) + " |")
    say("\nOrientation detection (tesseract --psm 0, osd.traineddata), per page:")
    costs = osd_cost(cases) if "clean" in cases and "rot90" in cases and "chinese" in cases else []
    if costs:
        say(f"  OSD median {statistics.median(costs):.2f} s/page (min {min(costs):.2f}, max {max(costs):.2f});"
            " paid only when the first reading is unsure (see tasks/pipeline/processing.py)")
    if args.worker_start:
        worker_start()
    if args.first_task:
        first_task()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(_out.getvalue())


if __name__ == "__main__":
    main()
