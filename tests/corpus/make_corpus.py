"""Write the corpus of bad inputs in this folder, and manifest.json saying what each must get.

Run from the project root: .venv/bin/python tests/corpus/make_corpus.py
The files are small and committed; tests/tasks/intake/test_bad_inputs.py reads manifest.json. The
limits the expectations assume are in manifest.json too (the test sets them). Files named
name-*.* are uploaded under the hostile name in "upload_name" (a path, a NUL, 300 characters,
non-Latin letters), which cannot be a file name on disk.
"""

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import pikepdf
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
LIMITS = {"MAX_PAGES": 300, "MAX_IMAGE_PIXELS": 60_000_000, "OCR_PDF_DPI": 200, "MAX_UPLOAD_MB": 50}

UNSUPPORTED = (415, "unsupported_type", "This type of file is not supported")
CORRUPT = (400, "corrupt_file", "damaged or incomplete")
PIXELS = (413, "too_many_pixels", "more than the 60,000,000 we take per page")
PAGES = (413, "too_many_pages", "the most we take is 300")


def polyglot(found: str) -> tuple[int, str, str]:
    return 415, "polyglot_file", f"The file is also another kind of file ({found})"


JAVASCRIPT = (415, "pdf_javascript", "The PDF contains JavaScript")


def sample_page(size=(240, 120)) -> Image.Image:
    image = Image.new("L", size, 255)
    ImageDraw.Draw(image).text((10, 10), "Tool OCR corpus", fill=0)
    return image


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def png_with_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge size: what a decompression bomb looks like before decoding."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def pdf_bytes(pages: list[tuple[float, float]], encryption=None) -> bytes:
    pdf = pikepdf.new()
    for width, height in pages:
        pdf.add_blank_page(page_size=(width, height))
    buf = io.BytesIO()
    pdf.save(buf, encryption=encryption, deterministic_id=encryption is None)
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_with_text(png: bytes, text: bytes) -> bytes:
    """A valid PNG with a tEXt chunk right after IHDR: the text lands in the first bytes of the file."""
    return png[:33] + png_chunk(b"tEXt", b"Comment\x00" + text) + png[33:]


def zip_archive() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.html", "<html><script>alert(1)</script></html>")
    return buf.getvalue()


def pdf_many_pages(count: int) -> bytes:
    """Thousands of pages in a few KB: every page shares one content stream, packed in object streams."""
    pdf = pikepdf.new()
    content = pdf.make_stream(b"0 0 m 10 10 l S")
    for _ in range(count):
        pdf.pages.append(pikepdf.Page(pikepdf.Dictionary(Type=pikepdf.Name.Page, MediaBox=[0, 0, 72, 72],
                                                         Contents=content)))
    buf = io.BytesIO()
    pdf.save(buf, object_stream_mode=pikepdf.ObjectStreamMode.generate, deterministic_id=True)
    return buf.getvalue()


def pdf_with_javascript(where: str) -> bytes:
    """A one-page PDF that runs a script: on opening, from a link annotation, or from the document's name tree.

    The annotation case is packed in a compressed object stream, so "/JS" is not in the file's bytes.
    """
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 100))
    action = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('corpus')"))
    if where == "open":
        pdf.Root.OpenAction = pdf.make_indirect(action)
    elif where == "annotation":
        link = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 100, 50],
                                  Border=[0, 0, 0], A=action)
        pdf.pages[0].obj.Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(link)]))
    else:
        pdf.Root.Names = pikepdf.Dictionary(JavaScript=pikepdf.Dictionary(
            Names=pikepdf.Array([pikepdf.String("corpus"), pdf.make_indirect(action)])))
    buf = io.BytesIO()
    mode = pikepdf.ObjectStreamMode.generate if where == "annotation" else pikepdf.ObjectStreamMode.disable
    pdf.save(buf, object_stream_mode=mode, deterministic_id=True)
    return buf.getvalue()


# Hostile file names, each paired with broken content: (file in this folder, name sent, name shown, content, expected).
# Django's upload parser keeps only the last part of a path and drops unprintable characters; the
# service then makes the name shown; the stored name is always generated (never these).
HOSTILE_NAMES = [
    ("name-traversal.png", "../../../etc/passwd.png", "passwd.png"),
    ("name-windows-path.png", "C:\\Users\\x\\..\\..\\evil.png", "evil.png"),
    ("name-nul.png", "report.png\x00.html", "report.png.html"),
    ("name-long.pdf", "a" * 300 + ".pdf", "a" * 251 + ".pdf"),
    ("name-non-latin.pdf", "請求書_2024年度（最終）.pdf", "請求書_2024年度（最終）.pdf"),
]


def cases() -> dict[str, tuple[bytes, tuple[int, str, str]]]:
    page = sample_page()
    png, jpeg, tiff = encoded(page, "PNG"), encoded(page, "JPEG", quality=80), encoded(page, "TIFF")
    bmp, webp = encoded(page, "BMP"), encoded(page, "WEBP", quality=80)
    good_pdf = pdf_bytes([(200, 100)])
    real_bomb = encoded(Image.new("1", (12_000, 12_000), 1), "PNG", optimize=True)  # 144 Mpx in a few KB
    return {
        "empty.png": (b"", (400, "empty_file", "The file is empty")),
        "notes.txt": (b"Meeting notes\nnot an image\n", UNSUPPORTED),
        "page.png.html": (b"<html><script>alert(1)</script></html>", UNSUPPORTED),
        "script-named.png": (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", UNSUPPORTED),
        "animation.gif": (encoded(page, "GIF"), UNSUPPORTED),
        "archive.zip": (b"PK\x03\x04" + b"\x00" * 60, UNSUPPORTED),
        "program.exe": (b"MZ\x90\x00" + b"\x00" * 60, UNSUPPORTED),
        "truncated.png": (png[: len(png) // 2], CORRUPT),
        "bad-crc.png": (png[:40] + bytes([png[40] ^ 0xFF]) + png[41:], CORRUPT),
        "header-only.jpg": (b"\xff\xd8\xff\xe0" + b"\x00" * 40, CORRUPT),
        "truncated.jpg": (jpeg[: len(jpeg) // 2], CORRUPT),
        "truncated.tif": (tiff[: len(tiff) // 3], CORRUPT),
        "truncated.bmp": (bmp[: len(bmp) // 2], CORRUPT),
        "truncated.webp": (webp[: len(webp) // 2], CORRUPT),
        "garbage.pdf": (b"%PDF-1.7\n" + bytes(range(256)) * 4, CORRUPT),
        "truncated.pdf": (good_pdf[: len(good_pdf) // 2], CORRUPT),
        "no-pages.pdf": (pdf_bytes([]), CORRUPT),  # PDFium refuses a PDF without pages
        "encrypted.pdf": (pdf_bytes([(200, 100)], pikepdf.Encryption(user="secret", owner="owner-secret")),
                          (400, "encrypted_pdf", "protected by a password")),
        "bomb-header.png": (png_with_header_only(100_000, 100_000), PIXELS),
        "bomb.png": (real_bomb, PIXELS),
        "huge-page.pdf": (pdf_bytes([(14_400, 14_400)]), PIXELS),
        "301-pages.pdf": (pdf_bytes([(72, 72)] * 301), PAGES),
        "301-pages.tif": (encoded(Image.new("1", (8, 8)), "TIFF", save_all=True,
                                  append_images=[Image.new("1", (8, 8))] * 300), PAGES),
        # Added for issue 6 (hostile files).
        "signature-only.png": (b"\x89PNG\r\n\x1a\n", CORRUPT),
        "html-named.png": (b"<!doctype html><html><body><script>fetch('/api/v1/tasks')</script></body></html>",
                           UNSUPPORTED),
        "bomb-50000x50000.png": (png_with_header_only(50_000, 50_000), PIXELS),
        "5000-pages.pdf": (pdf_many_pages(5000), PAGES),
        "javascript-open-action.pdf": (pdf_with_javascript("open"), JAVASCRIPT),
        "javascript-link-annotation.pdf": (pdf_with_javascript("annotation"), JAVASCRIPT),
        "javascript-name-tree.pdf": (pdf_with_javascript("names"), JAVASCRIPT),
        "polyglot-pdf-in-png.png": (png_with_text(png, b"%PDF-1.4\n1 0 obj<<>>endobj\n"), polyglot("a PDF inside an image")),
        "polyglot-html-in-png.png": (png_with_text(png, b"<html><script>alert(1)</script></html>"), polyglot("HTML inside an image")),
        "polyglot-zip-after-png.png": (png + zip_archive(), polyglot("data after the end of the PNG image")),
        "polyglot-zip-after-jpeg.jpg": (jpeg + zip_archive(), polyglot("a ZIP archive")),
        "polyglot-html-before-pdf.pdf": (b"<html><script>alert(1)</script></html>\n" + good_pdf, polyglot("data before the PDF header")),
        "name-traversal.png": (png[: len(png) // 2], CORRUPT),
        "name-windows-path.png": (b"", (400, "empty_file", "The file is empty")),
        "name-nul.png": (b"<html><script>alert(1)</script></html>", UNSUPPORTED),
        "name-long.pdf": (good_pdf[: len(good_pdf) // 3], CORRUPT),
        "name-non-latin.pdf": (pdf_bytes([]), CORRUPT),
    }


def main() -> None:
    manifest = {"limits": LIMITS, "files": {}}
    names = {stored: (sent, shown) for stored, sent, shown in HOSTILE_NAMES}
    for name, (content, (status, code, message)) in cases().items():
        (HERE / name).write_bytes(content)
        entry = {"status": status, "code": code, "message": message, "size": len(content)}
        if name in names:  # uploaded under a hostile name; "shown_name" is what the person sees
            entry["upload_name"], entry["shown_name"] = names[name]
        manifest["files"][name] = entry
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    total = sum(entry["size"] for entry in manifest["files"].values())
    print(f"wrote {len(manifest['files'])} files, {total:,} bytes, and manifest.json to {HERE}")


if __name__ == "__main__":
    main()
