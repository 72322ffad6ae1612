"""Load and run each preloaded OCR engine once, so that a worker's first task pays no model load."""

import logging
import time

from django.conf import settings
from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger("tool_ocr.worker")


def _sample_page() -> Image.Image:
    """A small page with a line of text: enough to run every stage of both engines once."""
    image = Image.new("L", (640, 120), 255)
    try:
        font = ImageFont.truetype("DejaVuSans.ttf", 36)
    except OSError:
        font = ImageFont.load_default(36)
    ImageDraw.Draw(image).text((20, 35), "Warm up 0123 ready", font=font, fill=0)
    return image


def warm_engines(names=None) -> dict[str, float]:
    """{engine: seconds} for each engine in ``names`` (default: OCR_PRELOAD_ENGINES) that this installation offers.

    A failure is logged and left for the first task to report: the worker still starts.
    """
    from tasks.ocr import engines, languages

    names = settings.OCR_PRELOAD_ENGINES if names is None else names
    offered = engines.offered_engines()
    page, timings, started = _sample_page(), {}, time.perf_counter()
    for name in names:
        if name not in offered:
            continue
        t0 = time.perf_counter()
        try:
            engines.get_engine(name).recognize(page, language="en" if "en" in languages.engine_languages(name)
                                               else languages.engine_languages(name)[0])
        except Exception:  # noqa: BLE001 - the first task will fail with the reason; the worker must start
            log.exception("could not load the %s engine at start-up", name)
            continue
        timings[name] = round(time.perf_counter() - t0, 3)
    if names:
        log.info("OCR engines loaded in %.2f s: %s", time.perf_counter() - started,
                 ", ".join(f"{n} {s:.2f} s" for n, s in timings.items()) or "none",
                 extra={"engine_seconds": timings})
    return timings
