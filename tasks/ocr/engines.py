"""Pick an engine by name; one instance per process."""

from tasks.ocr.base import OcrEngine

ENGINES = {
    "easyocr": "tasks.ocr.easyocr_engine.EasyOcrEngine",
    "tesseract": "tasks.ocr.tesseract_engine.TesseractEngine",
}
# (name, label, one-line trade-off) for the upload form; numbers from benchmarks/ocr_throughput.py and
# benchmarks/ocr_default.py (README, "Which engine").
ENGINE_CHOICES = [
    ("easyocr", "EasyOCR",
     "Neural network, English only: slower (about 3 s a page) and less exact on every kind of page we measured."),
    ("tesseract", "Tesseract",
     "The default: fast (about 1 s a page), the most accurate on scans and photos, and reads all listed languages."),
]
_instances: dict[str, OcrEngine] = {}


def engine_label(name: str) -> str:
    return next((label for n, label, _ in ENGINE_CHOICES if n == name), name)


def engines_for(language: str) -> list[str]:
    """Engines that read every language of ``language`` (``zh-Hant+en``) on this installation."""
    from tasks.ocr import languages

    tags = languages.parse(language)
    return [name for name in ENGINES if languages.reads(name, tags)]


def get_engine(name: str) -> OcrEngine:
    if name not in ENGINES:
        raise ValueError(f"Unknown OCR engine {name!r}")
    if name not in _instances:
        from django.utils.module_loading import import_string

        _instances[name] = import_string(ENGINES[name])()
    return _instances[name]


def offered_engines() -> list[str]:
    """Engines offered to people: each one that reads some language on this installation."""
    from tasks.ocr import languages

    return [name for name in ENGINES if languages.engine_languages(name)]


def ocr_options() -> dict:
    """GET /api/v1/ocr/options: the defaults and, per engine, the languages this installation reads."""
    from django.conf import settings

    from tasks.ocr import languages

    out = []
    for name in offered_engines():
        tags = languages.engine_languages(name)
        out.append({"name": name, "label": engine_label(name),
                    "languages": [{"code": t, "label": languages.label(t)} for t in tags]})
    return {"default_engine": settings.OCR_ENGINE, "default_language": settings.OCR_DEFAULT_LANGUAGE, "engines": out}
