"""Pick an engine by name; one instance per process."""

from tasks.ocr.base import OcrEngine

ENGINES = {
    "easyocr": "tasks.ocr.easyocr_engine.EasyOcrEngine",
    "tesseract": "tasks.ocr.tesseract_engine.TesseractEngine",
}
# (name, label, one-line trade-off) for the upload form; numbers from benchmarks/ocr_throughput.py.
ENGINE_CHOICES = [
    ("easyocr", "EasyOCR",
     "Neural network: copes better with photos and unusual fonts; slower (about 3 s a page), less exact on plain text."),
    ("tesseract", "Tesseract",
     "Fast (about 1 s a page) and the most accurate on printed and scanned documents."),
]
_instances: dict[str, OcrEngine] = {}


def get_engine(name: str) -> OcrEngine:
    if name not in ENGINES:
        raise ValueError(f"Unknown OCR engine {name!r}")
    if name not in _instances:
        from django.utils.module_loading import import_string

        _instances[name] = import_string(ENGINES[name])()
    return _instances[name]
