"""Pick an engine by name; one instance per process."""

from tasks.ocr.base import OcrEngine

ENGINES = {"easyocr": "tasks.ocr.easyocr_engine.EasyOcrEngine"}
_instances: dict[str, OcrEngine] = {}


def get_engine(name: str) -> OcrEngine:
    if name not in ENGINES:
        raise ValueError(f"Unknown OCR engine {name!r}")
    if name not in _instances:
        from django.utils.module_loading import import_string

        _instances[name] = import_string(ENGINES[name])()
    return _instances[name]
