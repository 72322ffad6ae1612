"""Upload time of operation-heavy PDFs (issue 15): the POST /api/v1/tasks round trip, in this process.

    .venv/bin/python benchmarks/pdf_upload.py                    # this checkout
    (cd /path/to/older/checkout && /path/to/.venv/bin/python /path/to/benchmarks/pdf_upload.py)   # before

Each PDF's pages share one content stream of N tiny drawing operations ("0 0 m 1 1 l S"); the
baseline is a plain 4-page PDF uploaded in the same run, so the ratios hold on a loaded machine.
Runs on a scratch SQLite database in a temporary folder (migrated here); nothing else is touched.
"""

import io
import os
import sys
import tempfile
import time
import zlib
from pathlib import Path

CASES = [("plain, 4 pages", 4, 0), ("4 pages x 1M operations", 4, 1_000_000),
         ("6 pages x 5M operations", 6, 5_000_000)]


def make_pdf(pages: int, operations: int) -> bytes:
    import pikepdf
    from pikepdf import Dictionary, Name

    pdf = pikepdf.new()
    body = b"0 0 m 1 1 l S\n" * (operations // 3) if operations else b"BT /F1 12 Tf 72 720 Td (Hello) Tj ET\n"
    stream = pikepdf.Stream(pdf, zlib.compress(body, 9))
    stream.Filter = Name.FlateDecode
    shared = pdf.make_indirect(stream)
    for _ in range(pages):
        pdf.pages.append(pikepdf.Page(Dictionary(Type=Name.Page, MediaBox=[0, 0, 612, 792], Contents=shared,
                                                 Resources=Dictionary())))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def main():
    root = Path.cwd()
    sys.path.insert(0, str(root))
    scratch = Path(tempfile.mkdtemp(prefix="pdf-upload-bench-"))
    os.environ.update(DATABASE_URL=f"sqlite:///{scratch}/db.sqlite3", DATA_DIR=str(scratch), DEBUG="true",
                      DJANGO_SETTINGS_MODULE="tool_ocr.settings", ALLOWED_HOSTS="testserver,localhost")
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.test import Client

    from accounts.models import TokenSession, User

    call_command("migrate", verbosity=0)
    results = []
    for label, pages, operations in CASES:
        data = make_pdf(pages, operations)
        user = User.objects.create_user(f"bench{len(results)}@example.com")
        client = Client()
        client.force_login(user, backend="accounts.backends.ExternalAuthBackend")
        TokenSession.objects.get_or_create(user=user, session_key=client.session.session_key)
        started = time.perf_counter()
        response = client.post("/api/v1/tasks", {"files": [SimpleUploadedFile("bench.pdf", data, "application/pdf")]})
        seconds = time.perf_counter() - started
        code = response.json().get("error", {}).get("code", "") if response.status_code >= 400 else "accepted"
        results.append((label, len(data), response.status_code, code, seconds))
    base = results[0][4]
    print(f"checkout: {root}")
    print(f"{'case':28} {'size':>8} {'status':>6} {'answer':24} {'seconds':>8} {'x plain':>8}")
    for label, size, status, code, seconds in results:
        print(f"{label:28} {size:>8} {status:>6} {code:24} {seconds:>8.2f} {seconds / base:>8.1f}")


if __name__ == "__main__":
    main()
