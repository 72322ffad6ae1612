"""Write the corpus of bad inputs in this folder, and manifest.json saying what each must get.

Run from the project root: .venv/bin/python tests/corpus/make_corpus.py
The files are small and committed; tests/tasks/test_bad_inputs.py reads manifest.json. The
limits the expectations assume are in manifest.json too (the test sets them).
"""

import io
import json
import struct
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
    }


def main() -> None:
    manifest = {"limits": LIMITS, "files": {}}
    for name, (content, (status, code, message)) in cases().items():
        (HERE / name).write_bytes(content)
        manifest["files"][name] = {"status": status, "code": code, "message": message, "size": len(content)}
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    total = sum(entry["size"] for entry in manifest["files"].values())
    print(f"wrote {len(manifest['files'])} files, {total:,} bytes, and manifest.json to {HERE}")


if __name__ == "__main__":
    main()
