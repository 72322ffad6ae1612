"""Recognise an upload by its content and open its pages as images."""

from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

Image.MAX_IMAGE_PIXELS = 60_000_000  # larger images are refused (decompression bombs)

SIGNATURES = [
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
]


class DocumentError(Exception):
    """An upload we cannot take; ``code`` and ``status`` go to the API, ``message`` to a person."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class DocumentInfo:
    mime_type: str
    page_count: int


def sniff(head: bytes) -> str | None:
    for signature, mime in SIGNATURES:
        if head.startswith(signature):
            return mime
    return None


def inspect(fh) -> DocumentInfo:
    """Check that the file is a complete image we take; fh is a seekable binary file."""
    fh.seek(0)
    head = fh.read(16)
    if not head:
        raise DocumentError("empty_file", "The file is empty.")
    mime = sniff(head)
    if mime is None:
        raise DocumentError("unsupported_type", "This type of file is not supported: upload a PNG or JPEG image.", 415)
    fh.seek(0)
    try:
        with Image.open(fh) as image:
            image.load()
    except Image.DecompressionBombError:
        raise DocumentError("too_many_pixels", "The image has too many pixels to process.", 413) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise DocumentError("corrupt_file", "The file is damaged or incomplete and cannot be read.") from None
    finally:
        fh.seek(0)
    return DocumentInfo(mime_type=mime, page_count=1)


def iter_pages(fh, mime_type: str):
    """Yield one RGB page image at a time."""
    fh.seek(0)
    with Image.open(fh) as image:
        yield image.convert("RGB")
