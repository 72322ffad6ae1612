"""A searchable PDF, written page by page: each page's image with invisible text on the recognised boxes.

The PDF is hand-written and streamed to a file as pages arrive, so a 300-page document
never sits in memory. The text uses the standard Courier font (every glyph 0.6 em wide, no
font file to embed) in text render mode 3 (invisible), scaled horizontally to the box's
width and rotated with it, so a viewer finds and selects the words where they are seen.
Characters outside Windows-1252 become "?" in the text layer (the JSON and text keep them).
"""

import io
import math
import zlib

from PIL import Image

from tasks.ocr.base import Line

COURIER_ADVANCE = 0.6  # glyph width in em
DESCENT = 0.2  # baseline above the box's bottom, as a share of its height
JPEG_QUALITY = 80


def _escape(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)").replace(b"\r", b" ").replace(b"\n", b" ")


def _num(value: float) -> bytes:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return b"0" if text in ("-0", "") else text.encode()


def text_operators(lines: list[Line], page_height_px: float, scale: float) -> bytes:
    """BT/ET block placing each line's text invisibly on its box (pixels -> points by ``scale``)."""
    out = [b"BT", b"3 Tr"]
    for line in lines:
        text = " ".join(line.text.split())
        if not text:
            continue
        (x_tl, y_tl), (x_tr, y_tr), (x_br, y_br), (x_bl, y_bl) = [(float(x), float(y)) for x, y in line.box[:4]]
        # Baseline direction from bottom-left to bottom-right; PDF's y axis points up.
        dx, dy = (x_br - x_bl) * scale, -(y_br - y_bl) * scale
        width = math.hypot(dx, dy)
        height = math.hypot(x_tl - x_bl, y_tl - y_bl) * scale
        if width <= 0 or height <= 0:
            continue
        cos, sin = dx / width, dy / width
        size = height
        origin_x = x_bl * scale - sin * DESCENT * height
        origin_y = (page_height_px - y_bl) * scale + cos * DESCENT * height
        stretch = 100 * width / (len(text) * COURIER_ADVANCE * size)
        out.append(b" ".join([b"/F1", _num(size), b"Tf", _num(stretch), b"Tz",
                              _num(cos), _num(sin), _num(-sin), _num(cos), _num(origin_x), _num(origin_y), b"Tm",
                              b"(" + _escape(text) + b")", b"Tj"]))
    out.append(b"ET")
    return b"\n".join(out)


class SearchablePdfWriter:
    """Write pages with ``add_page`` as they are recognised, then ``close`` once (writes the trailer)."""

    CATALOG, PAGES, FONT = 1, 2, 3

    def __init__(self, fh):
        self.fh = fh
        self.offsets: dict[int, int] = {}
        self.page_ids: list[int] = []
        self.next_id = 4
        self.fh.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        self._object(self.FONT, b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>")

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def _object(self, obj_id: int, body: bytes, stream: bytes | None = None) -> None:
        self.offsets[obj_id] = self.fh.tell()
        self.fh.write(f"{obj_id} 0 obj\n".encode())
        self.fh.write(body)
        if stream is not None:
            self.fh.write(b"\nstream\n")
            self.fh.write(stream)
            self.fh.write(b"\nendstream")
        self.fh.write(b"\nendobj\n")

    def add_page(self, image: Image.Image, lines: list[Line], dpi: float | None = None) -> None:
        dpi = float(dpi or (image.info.get("dpi") or (150, 150))[0] or 150)
        scale = 72.0 / dpi
        width_pt, height_pt = image.width * scale, image.height * scale
        image_id, content_id, page_id = self._new_id(), self._new_id(), self._new_id()

        picture = image if image.mode in ("L", "RGB") else image.convert("RGB")
        jpeg = io.BytesIO()
        picture.save(jpeg, "JPEG", quality=JPEG_QUALITY, optimize=True)
        colour = b"/DeviceGray" if picture.mode == "L" else b"/DeviceRGB"
        data = jpeg.getvalue()
        self._object(image_id, b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s "
                               b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>"
                     % (picture.width, picture.height, colour, len(data)), data)

        content = b"q " + _num(width_pt) + b" 0 0 " + _num(height_pt) + b" 0 0 cm /Im0 Do Q\n"
        content += text_operators(lines, image.height, scale)
        packed = zlib.compress(content, 6)
        self._object(content_id, b"<< /Filter /FlateDecode /Length %d >>" % len(packed), packed)

        self._object(page_id, b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %s %s] /Contents %d 0 R "
                              b"/Resources << /XObject << /Im0 %d 0 R >> /Font << /F1 %d 0 R >> >> >>"
                     % (self.PAGES, _num(width_pt), _num(height_pt), content_id, image_id, self.FONT))
        self.page_ids.append(page_id)

    def close(self) -> None:
        kids = b" ".join(b"%d 0 R" % i for i in self.page_ids)
        self._object(self.PAGES, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(self.page_ids)))
        self._object(self.CATALOG, b"<< /Type /Catalog /Pages %d 0 R >>" % self.PAGES)
        info_id = self._new_id()
        self._object(info_id, b"<< /Producer (Tool OCR) >>")
        xref_at = self.fh.tell()
        size = self.next_id
        self.fh.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
        for obj_id in range(1, size):
            self.fh.write(b"%010d 00000 n \n" % self.offsets[obj_id])
        self.fh.write(b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
                      % (size, self.CATALOG, info_id, xref_at))
