"""Tesseract 5 through its command-line program: fast and accurate on clean printed pages.

One `tesseract` process per page, reading the page from a temporary file, answering in TSV;
we group its words into lines by (block, paragraph, line). OMP_THREAD_LIMIT=1: Tesseract's
OpenMP threads slow it down on small machines and would fight the other workers for the CPU.
"""

import os
import shutil
import subprocess
import tempfile

from django.conf import settings
from PIL import Image

from tasks.ocr import languages
from tasks.ocr.base import Line, OcrEngine

PAGE_TIMEOUT = 600  # seconds; a page that takes longer is given up


class TesseractError(RuntimeError):
    pass


def tesseract_languages(language: str | None = None) -> str:
    """The task's language tags as Tesseract's pack names (``zh-Hant+en`` -> ``chi_tra+eng``)."""
    return languages.tesseract_codes(language or settings.OCR_DEFAULT_LANGUAGE)


def write_bmp(image: Image.Image, fh) -> None:
    """The page as an uncompressed greyscale BMP: free to write, where a PNG costs up to 0.1 s a page
    (~10% of Tesseract's time), and quick for Leptonica to read (a PGM costs it ~4% more).
    Greyscale, because Tesseract binarises grey anyway. The resolution is written as unknown
    (PIL would write 96 dpi; page.info["dpi"] may be a guess): Tesseract estimates it from the text.
    """
    if image.mode != "L":
        image = image.convert("L")
    image.save(fh, format="BMP", dpi=(0, 0))
    fh.flush()


def parse_tsv(tsv: str) -> list[Line]:
    """Words (TSV level 5) grouped into one Line per (page, block, paragraph, line), in Tesseract's order."""
    groups: dict[tuple, list] = {}
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
            continue
        left, top, width, height = (int(v) for v in cols[6:10])
        groups.setdefault(tuple(cols[1:5]), []).append((left, top, left + width, top + height,
                                                        float(cols[10]), cols[11].strip()))
    lines = []
    for words in groups.values():
        x0, y0 = min(w[0] for w in words), min(w[1] for w in words)
        x1, y1 = max(w[2] for w in words), max(w[3] for w in words)
        confidences = [max(0.0, min(100.0, w[4])) / 100 for w in words]
        lines.append(Line(text=languages.join_words([w[5] for w in words]), confidence=sum(confidences) / len(confidences),
                          box=[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))
    return lines


class TesseractEngine(OcrEngine):
    name = "tesseract"

    def __init__(self):
        self.binary = shutil.which("tesseract")
        if self.binary is None:
            raise TesseractError("The tesseract program is not installed (Debian: apt-get install tesseract-ocr).")
        self.env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def recognize(self, image: Image.Image, language: str | None = None) -> list[Line]:
        # A temporary file, not stdin: Tesseract reads stdin byte by byte, ~15% slower on a page.
        with tempfile.NamedTemporaryFile(prefix="tool-ocr-", suffix=".bmp") as fh:
            write_bmp(image, fh)
            proc = subprocess.run(
                [self.binary, fh.name, "stdout", "-l", tesseract_languages(language), "tsv"],
                capture_output=True, env=self.env, timeout=PAGE_TIMEOUT,
            )
        if proc.returncode != 0:
            detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
            raise TesseractError(f"tesseract exited with {proc.returncode}: {detail[0]}")
        return parse_tsv(proc.stdout.decode("utf-8", "replace"))
