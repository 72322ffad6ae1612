"""Turn pages upright before OCR: EXIF orientation, pages scanned at 90/180/270 degrees, small skew.

- EXIF (JPEG, TIFF, WebP): the camera's "turn me" tag is applied when the page is opened
  (tasks.intake.documents.iter_pages); the original file is kept as uploaded.
- 90/180/270: Tesseract's orientation and script detection (``--psm 0``, ``osd.traineddata``
  from Debian's ``tesseract-ocr-osd``), trusted above OSD_MIN_CONFIDENCE. It costs about half a
  second per page (benchmarks/ocr_default.py measures it), so the Tesseract engine first reads
  the page as it is and asks OSD only when that reading is unsure (tasks.pipeline.processing).
- Skew up to MAX_SKEW degrees: the angle at which the rows of dark pixels line up best
  (a projection profile on a small copy of the page), straightened when at least MIN_SKEW.
Everything after (text, boxes, the searchable PDF) refers to the upright page.
"""

import os
import re
import shutil
import subprocess
import tempfile

import numpy as np
from PIL import Image

OSD_MIN_CONFIDENCE = 2.0  # Tesseract's own "orientation confidence"; wrong turns score well below
MAX_SKEW = 10.0  # degrees
MIN_SKEW = 0.4  # degrees; less than this is left alone (resampling costs more than it gains)
_SKEW_WIDTH = 1000  # pixels: the small copy the skew is measured on
_ROTATE = re.compile(rb"Rotate:\s*(\d+)")
_CONFIDENCE = re.compile(rb"Orientation confidence:\s*([0-9.]+)")

# EXIF orientation -> what it means for a person (values 2, 4, 5 and 7 also mirror the picture).
EXIF_NOTES = {
    2: "mirrored (EXIF orientation)", 3: "turned 180° (EXIF orientation)",
    4: "mirrored and turned 180° (EXIF orientation)", 5: "mirrored and turned 90° (EXIF orientation)",
    6: "turned 90° clockwise (EXIF orientation)", 7: "mirrored and turned 90° (EXIF orientation)",
    8: "turned 90° counter-clockwise (EXIF orientation)",
}


def exif_orientation(frame: Image.Image) -> int:
    """The EXIF orientation tag (JPEG, WebP; TIFF's own tag 274), 1 when absent or odd."""
    try:
        value = int(frame.getexif().get(0x0112, 1) or 1)
    except (ValueError, TypeError, OSError, SyntaxError, AttributeError):
        return 1
    return value if value in EXIF_NOTES else 1


_EXIF_TRANSPOSE = {
    2: [Image.Transpose.FLIP_LEFT_RIGHT], 3: [Image.Transpose.ROTATE_180], 4: [Image.Transpose.FLIP_TOP_BOTTOM],
    5: [Image.Transpose.TRANSPOSE], 6: [Image.Transpose.ROTATE_270], 7: [Image.Transpose.TRANSVERSE],
    8: [Image.Transpose.ROTATE_90],
}


def transpose_for(image: Image.Image, orientation: int) -> Image.Image:
    """The picture as EXIF orientation ``orientation`` says it is meant to be seen (as ImageOps.exif_transpose)."""
    for op in _EXIF_TRANSPOSE.get(orientation, []):
        image = image.transpose(op)
    return image


def turn_clockwise(image: Image.Image, degrees: int) -> Image.Image:
    """Turn by 90, 180 or 270 degrees clockwise (lossless)."""
    ops = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}
    return image.transpose(ops[degrees]) if degrees in ops else image


def detect_rotation(image: Image.Image) -> tuple[int, float]:
    """(degrees to turn clockwise to make it upright, Tesseract's confidence); (0, 0.0) when unsure or unavailable."""
    from tasks.ocr.tesseract_engine import write_bmp

    binary = shutil.which("tesseract")
    if binary is None:
        return 0, 0.0
    with tempfile.NamedTemporaryFile(prefix="tool-ocr-osd-", suffix=".bmp") as fh:
        write_bmp(image, fh)
        try:
            proc = subprocess.run([binary, fh.name, "stdout", "--psm", "0", "-l", "osd"], capture_output=True,
                                  env={**os.environ, "OMP_THREAD_LIMIT": "1"}, timeout=120)
        except (OSError, subprocess.SubprocessError):
            return 0, 0.0
    rotate, confidence = _ROTATE.search(proc.stdout), _CONFIDENCE.search(proc.stdout)
    if proc.returncode != 0 or rotate is None or confidence is None:  # e.g. "Too few characters"
        return 0, 0.0
    degrees, conf = int(rotate.group(1)) % 360, float(confidence.group(1))
    if degrees not in (90, 180, 270) or conf < OSD_MIN_CONFIDENCE:
        return 0, conf
    return degrees, conf


def estimate_skew(image: Image.Image) -> float:
    """How far the page is turned, in degrees counter-clockwise (as PIL's ``rotate`` counts: its lines
    run uphill to the right when positive); 0.0 when the page has too little ink to tell."""
    grey = image.convert("L")
    scale = min(1.0, _SKEW_WIDTH / max(grey.width, grey.height))
    if scale < 1.0:
        grey = grey.resize((max(1, int(grey.width * scale)), max(1, int(grey.height * scale))), Image.BILINEAR)
    pixels = np.asarray(grey, dtype=np.float32)
    # Ink: clearly darker than the page around it (copes with grey paper and uneven light).
    background = np.asarray(grey.filter(_blur(grey)), dtype=np.float32)
    ys, xs = np.nonzero(pixels < background - 40)
    if len(xs) < 200:
        return 0.0
    if len(xs) > 60000:
        pick = np.random.default_rng(0).choice(len(xs), 60000, replace=False)
        ys, xs = ys[pick], xs[pick]
    xs = xs - xs.mean()
    ys = ys - ys.mean()

    def sharpness(angle):
        rad = np.deg2rad(angle)
        rows = np.round(ys * np.cos(rad) + xs * np.sin(rad)).astype(np.int64)
        counts = np.bincount(rows - rows.min())
        return float(np.sum(np.diff(counts.astype(np.float64)) ** 2))

    coarse = np.arange(-MAX_SKEW - 1, MAX_SKEW + 1.01, 0.5)
    best = max(coarse, key=sharpness)
    fine = np.arange(best - 0.5, best + 0.501, 0.05)
    angle = float(max(fine, key=sharpness))
    return angle if abs(angle) <= MAX_SKEW else 0.0


def _blur(grey):
    from PIL import ImageFilter

    return ImageFilter.BoxBlur(max(4, grey.width // 40))


def straighten(image: Image.Image, angle: float) -> Image.Image:
    """Rotate by ``angle`` degrees (counter-clockwise, as PIL counts), page-coloured corners."""
    fill = 255 if image.mode == "L" else (255, 255, 255)
    return image.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=fill)


def deskew(image: Image.Image) -> tuple[Image.Image, float]:
    """The page straightened, and by how many degrees (0.0: left as it was)."""
    angle = estimate_skew(image)
    if abs(angle) < MIN_SKEW:
        return image, 0.0
    return straighten(image, -angle), angle
