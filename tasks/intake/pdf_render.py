"""Draw PDF pages in a child process, under a per-page deadline and a memory cap.

PDFium runs a page's drawing operations in C: a hostile page (millions of tiny operations,
a huge pattern) cannot be interrupted from Python. So the worker hands the PDF to a child
process (this file, run as a script: no Django, only pypdfium2), asks for one page at a time
and waits at most PDF_PAGE_RENDER_SECONDS for it; the child runs with an address-space limit
of PDF_RENDER_MEMORY_MB. A page past either limit kills the child and fails the task with the
reason, instead of holding the queue.

Protocol over the child's stdin/stdout: the parent sends the PDF (8-byte length, then the
bytes), then one 4-byte page index per page wanted; the child answers each with a record:
``P`` width height stride len(mode) mode pixels, or ``E`` len(json) json.
"""

import json
import os
import struct
import sys

_HEADER = struct.Struct(">cIIIB")
_ERROR = struct.Struct(">cI")  # also the text-layer record: T, then its length
_REQUEST = struct.Struct(">IB")  # page index, 1 = read its text layer if it has one


# --- Child ----------------------------------------------------------------------------
def _read_exact(stream, n: int) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise EOFError
    return data


def _child(dpi: int, memory_bytes: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    (length,) = struct.unpack(">Q", _read_exact(stdin, 8))
    data = _read_exact(stdin, length)
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    while True:
        try:
            index, text_layer = _REQUEST.unpack(_read_exact(stdin, _REQUEST.size))
        except EOFError:
            return
        try:
            page = pdf[index]
            if text_layer:
                import math
                import pickle

                from tasks.intake.pdf_text import text_layer_page

                width, height = page.get_size()
                read = text_layer_page(page, math.ceil(width * dpi / 72 - 1e-6), math.ceil(height * dpi / 72 - 1e-6))
                if read is not None:
                    body = pickle.dumps(read)
                    stdout.write(_ERROR.pack(b"T", len(body)) + body)
                    stdout.flush()
                    page.close()
                    continue
            bitmap = page.render(scale=dpi / 72, grayscale=False, rev_byteorder=True)
            mode = bitmap.mode.encode()
            pixels = bytes(bitmap.buffer)
            stdout.write(_HEADER.pack(b"P", bitmap.width, bitmap.height, bitmap.stride, len(mode)) + mode)
            stdout.write(pixels)
            bitmap.close()
            page.close()
        except (MemoryError, Exception) as exc:  # noqa: BLE001 - reported to the parent, which decides
            body = json.dumps({"error": type(exc).__name__}).encode()
            stdout.write(_ERROR.pack(b"E", len(body)) + body)
        stdout.flush()


# --- Parent -----------------------------------------------------------------------------
class RenderTimeout(Exception):
    pass


class RenderFailed(Exception):
    pass


class PageRenderer:
    """One child per document; ``render(index)`` gives a PIL image or raises RenderTimeout/RenderFailed."""

    def __init__(self, data: bytes, *, dpi: int, seconds: float, memory_mb: int):
        import subprocess
        import tempfile

        self.seconds = seconds
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            # -I: no script folder on sys.path (tasks/selectors.py would shadow the standard module)
            [sys.executable, "-I", os.path.abspath(__file__), str(dpi), str(memory_mb * 1024 * 1024)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, close_fds=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"})
        try:
            self.proc.stdin.write(struct.pack(">Q", len(data)))
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.close()
            raise RenderFailed("the drawing process stopped before it read the PDF") from None

    def render(self, index: int, text_layer: bool = False):
        """The page as a PIL image; with ``text_layer``, a pdf_text.TextLayerPage when it carries text."""
        import pickle
        import time

        from PIL import Image

        deadline = time.monotonic() + self.seconds
        try:
            self.proc.stdin.write(_REQUEST.pack(index, 1 if text_layer else 0))
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise RenderFailed(self._why()) from None
        kind = self._read(1, deadline)
        if kind == b"E":
            (length,) = struct.unpack(">I", self._read(4, deadline))
            raise RenderFailed(json.loads(self._read(length, deadline)).get("error", "error"))
        if kind == b"T":  # our own child's answer (a dataclass of strings and numbers)
            (length,) = struct.unpack(">I", self._read(4, deadline))
            return pickle.loads(self._read(length, deadline))  # noqa: S301
        _kind, width, height, stride, mode_len = _HEADER.unpack(kind + self._read(_HEADER.size - 1, deadline))
        mode = self._read(mode_len, deadline).decode()
        pixels = self._read(stride * height, deadline)
        return Image.frombuffer(mode, (width, height), pixels, "raw", mode, stride, 1)

    def _read(self, n: int, deadline: float) -> bytes:
        import select
        import time

        fd = self.proc.stdout.fileno()
        parts, got = [], 0
        while got < n:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise RenderTimeout()
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, min(n - got, 1024 * 1024))
            if not chunk:
                raise RenderFailed(self._why())
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    def _why(self) -> str:
        try:
            code = self.proc.wait(timeout=5)
        except Exception:  # noqa: BLE001
            code = None
        self._stderr.seek(0)
        tail = self._stderr.read()[-300:].decode(errors="replace").strip().splitlines()
        return f"exit code {code}" + (f": {tail[-1]}" if tail else "")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except (BrokenPipeError, OSError):
                pass
        self._stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


if __name__ == "__main__":
    # The project folder (three up: tasks/intake/pdf_render.py), for tasks.intake.pdf_text; no Django.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    _child(int(sys.argv[1]), int(sys.argv[2]))
