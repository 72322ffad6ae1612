"""Recognise an upload by its content, check it against the limits, and open its pages one at a time.

Types are told by their first bytes, never by the file name, and each is opened only by
its own decoder (Pillow's ``formats=``), so a file cannot pick another parser. Sizes in
pixels are checked from the headers before anything is decoded (decompression bombs).
"""

import io
import math
import re
import struct
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, ImageSequence, UnidentifiedImageError

from core.errors import AppError
from tasks.ocr.orientation import EXIF_NOTES, transpose_for
from tasks.ocr.orientation import exif_orientation as exif_orientation_of

# Pillow's own guard, as a second line behind the explicit check in _check_pixels (Pillow only
# raises at twice this value; below that it warns).
Image.MAX_IMAGE_PIXELS = None

ACCEPTED = "PNG, JPEG, TIFF, BMP, WebP or PDF"

# mime type -> (Pillow format, or None for PDF)
PIL_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/tiff": "TIFF", "image/bmp": "BMP",
               "image/webp": "WEBP"}
MIME_TYPES = (*PIL_FORMATS, "application/pdf")


class DocumentError(AppError):
    """An upload we cannot take (or a page we cannot draw): the processing and the page view catch these apart."""


def file_too_large() -> DocumentError:
    limit = settings.MAX_UPLOAD_MB
    return DocumentError(f"The file is larger than {limit} MB, the most we take per file.", code="file_too_large",
                         status=413, details={"max_upload_mb": limit})


@dataclass
class DocumentInfo:
    mime_type: str
    page_count: int


def sniff(head: bytes) -> str | None:
    """The mime type from the first bytes (at least 12), or None for a type we do not take."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if head.startswith(b"BM") and len(head) >= 14:
        return "image/bmp"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    # PDF readers accept the header anywhere in the first 1024 bytes (e.g. after a BOM or junk).
    if b"%PDF-" in head[:1024]:
        return "application/pdf"
    return None


def inspect(fh) -> DocumentInfo:
    """Check that fh (a seekable binary file) is a complete document we take, within the limits."""
    fh.seek(0, io.SEEK_END)
    size = fh.tell()
    fh.seek(0)
    if size == 0:
        raise DocumentError("The file is empty.", code="empty_file")
    if size > settings.MAX_UPLOAD_MB * 1024 * 1024:
        raise file_too_large()
    head = fh.read(1024)
    fh.seek(0)
    mime = sniff(head)
    if mime is None:
        raise DocumentError(f"This type of file is not supported: upload a {ACCEPTED} file.", code="unsupported_type",
                            status=415)
    _check_not_polyglot(fh, head, size, mime)
    try:
        pages = _inspect_pdf(fh) if mime == "application/pdf" else _inspect_image(fh, mime)
    finally:
        fh.seek(0)
    return DocumentInfo(mime_type=mime, page_count=pages)


# --- Files that are two things at once ---------------------------------------------
# A "polyglot" is read as an image by us and as something else (a PDF, a ZIP, a web page) by
# another program, which is how content is smuggled past checks like ours. We only keep files
# that are one thing: a PDF starts with its header, an image has no PDF header or HTML in its
# first bytes, no ZIP directory at its end and (PNG) nothing after its last chunk.
_HTML_MARKERS = (b"<html", b"<script", b"<svg", b"<iframe")
_ZIP_END = b"PK\x05\x06"  # a ZIP's end-of-central-directory record: 22 bytes plus a comment, at the end
_ZIP_END_SPAN = 22 + 65535


def _polyglot(found: str) -> DocumentError:
    return DocumentError(
        f"The file is also another kind of file ({found}), a way to hide content inside an upload: "
        f"save it again as a plain {ACCEPTED} file and upload that copy.",
        code="polyglot_file", status=415, details={"found": found})


def _check_not_polyglot(fh, head: bytes, size: int, mime: str) -> None:
    if mime == "application/pdf":
        if not head.startswith(b"%PDF-"):
            raise _polyglot("data before the PDF header")
    else:
        lowered = head.lower()
        if b"%pdf-" in lowered:
            raise _polyglot("a PDF inside an image")
        if any(marker in lowered for marker in _HTML_MARKERS):
            raise _polyglot("HTML inside an image")
        if mime == "image/png" and _png_trailing_bytes(fh, size):
            raise _polyglot("data after the end of the PNG image")
    if _ends_with_zip_directory(fh, size):
        raise _polyglot("a ZIP archive")


def _ends_with_zip_directory(fh, size: int) -> bool:
    """True when a ZIP reader would find an archive: an end record whose comment ends exactly at the end."""
    span = min(size, _ZIP_END_SPAN)
    fh.seek(size - span)
    tail = fh.read(span)
    fh.seek(0)
    at = tail.rfind(_ZIP_END)
    while at != -1:
        if at + 22 <= len(tail) and at + 22 + int.from_bytes(tail[at + 20:at + 22], "little") == len(tail):
            return True
        at = tail.rfind(_ZIP_END, 0, at)
    return False


def _png_trailing_bytes(fh, size: int) -> bool:
    """True when bytes follow the IEND chunk. A PNG cut short is left to the decoder (corrupt_file)."""
    position = 8
    try:
        while position + 8 <= size:
            fh.seek(position)
            length, kind = struct.unpack(">I4s", fh.read(8))
            position += 12 + length
            if kind == b"IEND":
                return position < size
        return False
    finally:
        fh.seek(0)


def _corrupt() -> DocumentError:
    return DocumentError("The file is damaged or incomplete and cannot be read.", code="corrupt_file")


def _check_pages(count: int) -> None:
    if count < 1:
        raise DocumentError("The document has no pages.", code="no_pages")
    if count > settings.MAX_PAGES:
        raise DocumentError(f"The document has {count} pages; the most we take is {settings.MAX_PAGES}.",
                            code="too_many_pages", status=413,
                            details={"page_count": count, "max_pages": settings.MAX_PAGES})


def _check_pixels(width: int, height: int, number: int) -> None:
    if width * height > settings.MAX_IMAGE_PIXELS:
        raise DocumentError(
            f"Page {number} is {width} × {height} pixels, more than the {settings.MAX_IMAGE_PIXELS:,} we take per page.",
            code="too_many_pixels", status=413,
            details={"page": number, "width": width, "height": height, "max_pixels": settings.MAX_IMAGE_PIXELS})


def _open_image(fh, mime: str) -> Image.Image:
    return Image.open(fh, formats=[PIL_FORMATS[mime]])


def _frames(image: Image.Image, mime: str):
    """TIFF pages, or the one picture of the other types (an animated WebP is read as its first frame)."""
    if mime == "image/tiff":
        yield from ImageSequence.Iterator(image)
    else:
        yield image


def _inspect_image(fh, mime: str) -> int:
    try:
        with _open_image(fh, mime) as image:
            count = getattr(image, "n_frames", 1) if mime == "image/tiff" else 1
            _check_pages(count)
            for number, frame in enumerate(_frames(image, mime), start=1):
                _check_pixels(frame.width, frame.height, number)
                frame.load()  # decodes it all: a truncated or damaged file fails here
    except DocumentError:
        raise
    except Image.DecompressionBombError:  # pragma: no cover - _check_pixels comes first
        raise DocumentError("The image has too many pixels to process.", code="too_many_pixels", status=413) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError,
            struct.error):
        raise _corrupt() from None
    return count


def _pdf_open(fh):
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(fh)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == pdfium.raw.FPDF_ERR_PASSWORD:
            raise DocumentError("The PDF is protected by a password: upload an unprotected copy.",
                                code="encrypted_pdf") from None
        raise _corrupt() from None


# --- PDFs with scripts ------------------------------------------------------------------
# We never run a PDF's scripts, but we hand the original back to its owner and keep a copy:
# a PDF that runs code when opened or clicked is refused rather than stored. PDFium counts the
# document-level scripts (the /Names /JavaScript tree); qpdf (pikepdf) then walks everything a
# viewer can reach from the trailer, also objects packed in compressed object streams, for a
# /JS entry, an /S /JavaScript action or a /JavaScript name tree (page and annotation actions,
# /OpenAction, /AA, form fields, outlines). The walk has a budget, so a file of millions of tiny
# objects cannot keep a web process busy: past it the PDF is refused as too complex to check.
_JS_NAME = re.compile(rb"/(?:JS|JavaScript)(?=[\s/<>\[\]()%{}]|$)")
_LAUNCH_NAME = re.compile(rb"/Launch(?=[\s/<>\[\]()%{}]|$)")
PDF_CHECK_BUDGET = 100_000  # containers visited (~2 s at most); a 300-page PDF has thousands


def _no_javascript_error() -> DocumentError:
    return DocumentError("The PDF contains JavaScript (code that runs when it is opened or clicked), which we do not "
                         "accept: print it to a new PDF, or save a copy without scripts, and upload that.",
                         code="pdf_javascript", status=415)


def _check_no_javascript(pdf, fh, budget: "_Budget") -> None:
    """Scripts, launch actions and URI open actions refused; the pages' drawing work measured (qpdf)."""
    import pypdfium2.raw as pdfium_c

    if pdfium_c.FPDFDoc_GetJavaScriptActionCount(pdf.raw) > 0:
        raise _no_javascript_error()
    _check_objects(fh, budget)


# --- Actions that leave the document --------------------------------------------------------
# /Launch runs a program or opens a file; a /URI *open* action sends the reader to a web address
# as soon as the file is opened (a tracking beacon at best). We refuse both, like scripts, rather
# than strip them: the original is handed back to its owner byte for byte (its SHA-256 is on the
# task), so a rewritten copy would be neither their file nor ours. Ordinary links (a /URI on a
# link annotation, followed only when clicked) stay allowed.
def _launch_error() -> DocumentError:
    return DocumentError("The PDF contains a launch action (it can start a program or open another file), which we do "
                         "not accept: print it to a new PDF and upload that.", code="pdf_launch_action", status=415)


def _uri_open_error() -> DocumentError:
    return DocumentError("The PDF opens a web address by itself when it is opened, which we do not accept: print it "
                         "to a new PDF and upload that.", code="pdf_open_uri", status=415)


def _check_objects(fh, budget: "_Budget") -> None:
    import pikepdf

    fh.seek(0)
    try:
        with pikepdf.open(fh) as doc:
            found = _javascript_reachable(doc.trailer, budget)
            if found == "javascript":
                raise _no_javascript_error()
            if found == "launch":
                raise _launch_error()
            if _opens_a_uri(doc):
                raise _uri_open_error()
            _measure_content(doc, budget)
    except (pikepdf.PdfError, pikepdf.PasswordError, ValueError):
        # qpdf cannot read what PDFium did: scan the raw bytes for the names instead.
        found = _named_in_bytes(fh)
        if found == "javascript":
            raise _no_javascript_error() from None
        if found == "launch":
            raise _launch_error() from None
    finally:
        fh.seek(0)


def _too_complex(detail: str, details: dict) -> DocumentError:
    return DocumentError(f"The PDF {detail}, too much to check or draw safely: "
                         "print it to a new PDF (or a lower quality one) and upload that.",
                         code="pdf_too_complex", status=413, details=details)


class _Budget:
    """The work an upload's PDF check may do: containers visited, drawing bytes, wall-clock seconds."""

    def __init__(self):
        import time

        self._clock = time.monotonic
        self.deadline = self._clock() + settings.PDF_INSPECT_SECONDS
        self.visited = 0
        self.content_bytes = 0

    def tick(self):
        self.visited += 1
        if self.visited > PDF_CHECK_BUDGET:
            raise _too_complex(f"has more than {PDF_CHECK_BUDGET:,} parts", {"max_parts": PDF_CHECK_BUDGET})
        if self.visited % 1000 == 0:
            self.check_time()

    def check_time(self):
        if self._clock() > self.deadline:
            raise _too_complex(f"takes longer than {settings.PDF_INSPECT_SECONDS} seconds to check",
                               {"max_seconds": settings.PDF_INSPECT_SECONDS})


def _javascript_reachable(start, budget: "_Budget | None" = None):
    """"javascript" or "launch" when such an action is reachable from ``start``, else None.

    Each indirect object is visited once (pages link back).
    """
    import pikepdf

    budget = budget or _Budget()
    containers = (pikepdf.Dictionary, pikepdf.Array, pikepdf.Stream)
    seen, stack = set(), [start]
    while stack:
        obj = stack.pop()
        if obj.is_indirect:
            if obj.objgen in seen:
                continue
            seen.add(obj.objgen)
        budget.tick()
        if isinstance(obj, pikepdf.Stream):
            obj = obj.stream_dict
        if isinstance(obj, pikepdf.Dictionary):
            if "/JS" in obj or "/JavaScript" in obj or obj.get("/S") == pikepdf.Name.JavaScript:
                return "javascript"
            if obj.get("/S") == pikepdf.Name.Launch or "/Launch" in obj:
                return "launch"
            children = (obj[key] for key in obj.keys())
        else:
            children = iter(obj)
        stack.extend(child for child in children if isinstance(child, containers))
    return None


def _opens_a_uri(doc) -> bool:
    """A /URI action run at opening: the catalog's /OpenAction, or a page's open (/AA /O), with their /Next chains."""
    import pikepdf

    def actions(action, depth=0):
        if depth > 32:
            return
        if isinstance(action, pikepdf.Dictionary):
            yield action
            nxt = action.get("/Next")
            for item in (nxt if isinstance(nxt, pikepdf.Array) else [nxt] if nxt is not None else []):
                yield from actions(item, depth + 1)

    starts = [doc.Root.get("/OpenAction")]
    for page in doc.pages:
        aa = page.obj.get("/AA")
        if isinstance(aa, pikepdf.Dictionary):
            starts.append(aa.get("/O"))
    return any(a.get("/S") == pikepdf.Name.URI for start in starts for a in actions(start))


def _named_in_bytes(fh):
    fh.seek(0)
    tail = b""
    for chunk in iter(lambda: fh.read(1024 * 1024), b""):
        window = tail + chunk
        if _JS_NAME.search(window):
            return "javascript"
        if _LAUNCH_NAME.search(window):
            return "launch"
        tail = chunk[-16:]
    return None


def _javascript_named_in_bytes(fh) -> bool:
    return _named_in_bytes(fh) == "javascript"


# --- Drawing work -------------------------------------------------------------------------
# A page is drawn by running its content streams; a small file can hold a stream of millions of
# tiny operations, shared by every page. Their decoded size is what PDFium will parse, so it is
# measured (each stream decoded once, with a cap, and counted for every page that draws it) and
# refused past PDF_MAX_PAGE_CONTENT_MB for one page or PDF_MAX_CONTENT_MB for the document.
def _measure_content(doc, budget: "_Budget") -> None:
    import pikepdf

    per_page_cap = settings.PDF_MAX_PAGE_CONTENT_MB * 1024 * 1024
    total_cap = settings.PDF_MAX_CONTENT_MB * 1024 * 1024
    sizes = {}
    for number, page in enumerate(doc.pages, start=1):
        budget.check_time()
        contents = page.obj.get("/Contents")
        streams = list(contents) if isinstance(contents, pikepdf.Array) else [contents] if contents is not None else []
        page_bytes = 0
        for stream in streams[:1000]:
            if not isinstance(stream, pikepdf.Stream):
                continue
            key = stream.objgen if stream.is_indirect else id(stream)
            if key not in sizes:
                sizes[key] = _decoded_size(stream, per_page_cap + 1, budget)
            page_bytes += sizes[key]
            if page_bytes > per_page_cap:
                raise _too_complex(f"draws more than {settings.PDF_MAX_PAGE_CONTENT_MB} MB of operations on page "
                                   f"{number}", {"page": number, "max_page_content_mb": settings.PDF_MAX_PAGE_CONTENT_MB})
        budget.content_bytes += page_bytes
        if budget.content_bytes > total_cap:
            raise _too_complex(f"draws more than {settings.PDF_MAX_CONTENT_MB} MB of operations in all",
                               {"page": number, "max_content_mb": settings.PDF_MAX_CONTENT_MB})


def _decoded_size(stream, cap: int, budget: "_Budget") -> int:
    """The stream's decoded length, decoding at most ``cap`` bytes (a compression bomb stops there)."""
    import zlib

    import pikepdf

    filters = stream.get("/Filter")
    names = [str(f) for f in filters] if isinstance(filters, pikepdf.Array) else [str(filters)] if filters else []
    raw = stream.read_raw_bytes()
    if not names:
        return len(raw)
    if names == ["/FlateDecode"] and stream.get("/DecodeParms") is None:
        inflater, size = zlib.decompressobj(), 0
        for start in range(0, len(raw), 64 * 1024):
            data = raw[start:start + 64 * 1024]
            while data:  # at most 1 MB of output at a time: memory stays flat whatever the ratio
                try:
                    size += len(inflater.decompress(data, 1024 * 1024))
                except zlib.error:
                    return size  # damaged: PDFium stops drawing there too
                if size > cap:
                    return cap
                data = inflater.unconsumed_tail
                budget.check_time()
        return size
    if len(raw) > 1024 * 1024:  # other filters: decoded in memory by qpdf, so only small ones
        return cap
    try:
        return len(stream.read_bytes())
    except pikepdf.PdfError:
        return len(raw)


def pdf_page_pixels(page, dpi: int) -> tuple[int, int]:
    """Its size in pixels when rendered at dpi (PDFium rounds part pixels up)."""
    width_pt, height_pt = page.get_size()
    return math.ceil(width_pt * dpi / 72 - 1e-6), math.ceil(height_pt * dpi / 72 - 1e-6)


def pdf_page_pixels_by_index(pdf, index: int, dpi: int) -> tuple[int, int]:
    """Like pdf_page_pixels, from the page tree alone: the page's drawing is not parsed."""
    width_pt, height_pt = pdf.get_page_size(index)
    return math.ceil(width_pt * dpi / 72 - 1e-6), math.ceil(height_pt * dpi / 72 - 1e-6)


def _inspect_pdf(fh) -> int:
    """Pages, sizes and actions, within a work and time budget; no page's drawing is run here.

    Loading a page makes PDFium parse its content streams, which a hostile file makes cost
    seconds per page; sizes come from the page tree instead, and the drawing work is only
    measured (see _measure_content). Rendering happens in the worker, under a deadline.
    """
    import pypdfium2 as pdfium

    budget = _Budget()
    pdf = _pdf_open(fh)
    try:
        count = len(pdf)
        _check_pages(count)
        _check_no_javascript(pdf, fh, budget)
        for index in range(count):
            try:
                size = pdf_page_pixels_by_index(pdf, index, settings.OCR_PDF_DPI)
            except pdfium.PdfiumError:
                raise _corrupt() from None
            _check_pixels(*size, index + 1)
    finally:
        pdf.close()
    return count


def iter_pages(fh, mime_type: str, text_layers: bool = False):
    """Yield one RGB or greyscale page image at a time, with ``info["dpi"]`` set (used by the searchable PDF).

    With ``text_layers``, a PDF page that carries its own text comes as a ``pdf_text.TextLayerPage``
    (its exact text and boxes) instead, and is not rendered at all.
    """
    fh.seek(0)
    if mime_type == "application/pdf":
        yield from _iter_pdf_pages(fh, text_layers)
        return
    with _open_image(fh, mime_type) as image:
        for number, frame in enumerate(_frames(image, mime_type), start=1):
            _check_pixels(frame.width, frame.height, number)
            dpi = _image_dpi(frame)
            # A photo says which way up it is: honour it (the original file stays as it is).
            exif_orientation = exif_orientation_of(frame) if mime_type in EXIF_TYPES else 1
            page = frame.convert("L" if frame.mode in ("1", "L", "I;16", "I") else "RGB")
            if exif_orientation != 1:
                if exif_orientation_of(frame) == exif_orientation:  # Pillow turns TIFFs itself when it loads them
                    page = transpose_for(page, exif_orientation)
                page.info["turned"] = [EXIF_NOTES[exif_orientation]]
            page.info["dpi"] = (dpi, dpi)
            yield page


EXIF_TYPES = ("image/jpeg", "image/tiff", "image/webp")


def _image_dpi(image: Image.Image) -> float:
    """The resolution the file claims, if it is plausible; else 150 dpi (a guess only used for the PDF page size)."""
    try:
        dpi = float(image.info.get("dpi", (0, 0))[0])
    except (TypeError, ValueError, IndexError):
        dpi = 0.0
    return dpi if 50 <= dpi <= 1200 else 150.0


def _render_error(code: str, number: int, why: str) -> DocumentError:
    if code == "page_render_timeout":
        text = (f"Page {number} took longer than {settings.PDF_PAGE_RENDER_SECONDS} seconds to draw, so the task "
                "was stopped: the PDF is too complex. Print it to a new PDF (or a lower quality one) and upload that.")
    else:
        text = (f"Page {number} could not be drawn ({why}; the drawing process may use at most "
                f"{settings.PDF_RENDER_MEMORY_MB} MB). Print the PDF to a new one and upload that.")
    return DocumentError(text, code=code, status=422, details={"page": number})


def _iter_pdf_pages(fh, text_layers: bool = False):
    """Pages read (text layer) or drawn one at a time in a child process (tasks/intake/pdf_render.py),
    each under a deadline and a memory cap: a page's content is never parsed in the worker itself."""
    from tasks.intake.pdf_render import PageRenderer, RenderFailed, RenderTimeout

    dpi = settings.OCR_PDF_DPI
    data = fh.read()
    pdf = _pdf_open(io.BytesIO(data))
    try:
        sizes = [pdf_page_pixels_by_index(pdf, index, dpi) for index in range(len(pdf))]
    finally:
        pdf.close()
    with PageRenderer(data, dpi=dpi, seconds=settings.PDF_PAGE_RENDER_SECONDS,
                      memory_mb=settings.PDF_RENDER_MEMORY_MB) as renderer:
        del data
        for index, size in enumerate(sizes):
            _check_pixels(*size, index + 1)
            try:
                page = renderer.render(index, text_layer=text_layers)
            except RenderTimeout:
                raise _render_error("page_render_timeout", index + 1, "") from None
            except RenderFailed as exc:
                raise _render_error("page_render_failed", index + 1, str(exc)) from None
            if not isinstance(page, Image.Image):  # a pdf_text.TextLayerPage: read, not drawn
                yield page
                continue
            image = page.convert("RGB")
            image.info["dpi"] = (dpi, dpi)
            yield image
