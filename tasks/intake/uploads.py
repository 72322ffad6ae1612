"""Uploads streamed to disk, cut off past MAX_UPLOAD_MB, and the files of one request.

Django's TemporaryFileUploadHandler writes every chunk to a temporary file, so an upload
never sits in memory. A file that passes the limit is dropped as soon as it does (its
temporary file is deleted) instead of filling the disk; its name is kept on the request
so the page or the API can say which file was too large.
"""

from django.conf import settings
from django.core.files.uploadhandler import SkipFile, TemporaryFileUploadHandler

from core.dependencies import TempFolderUnavailable
from tasks.intake.documents import DocumentError, file_too_large

_OVERSIZED_ATTR = "_tool_ocr_oversized_uploads"


class LimitedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    def new_file(self, *args, **kwargs):
        try:
            super().new_file(*args, **kwargs)
        except OSError as exc:  # TMPDIR read-only, full or gone: a dependency down (503), not a bad upload
            raise TempFolderUnavailable(exc.errno, f"the temporary folder cannot take uploads ({exc.strerror})") from exc
        self._received = 0

    def receive_data_chunk(self, raw_data, start):
        try:
            return self._receive(raw_data, start)
        except OSError as exc:  # the temporary folder filled up while this file streamed in
            if isinstance(exc, TempFolderUnavailable):
                raise
            raise TempFolderUnavailable(exc.errno, f"the temporary folder cannot take uploads ({exc.strerror})") from exc

    def _receive(self, raw_data, start):
        self._received += len(raw_data)
        if self._received > settings.MAX_UPLOAD_MB * 1024 * 1024:
            if self.request is not None:
                if not hasattr(self.request, _OVERSIZED_ATTR):
                    setattr(self.request, _OVERSIZED_ATTR, [])
                getattr(self.request, _OVERSIZED_ATTR).append((self.field_name, self.file_name))
            raise SkipFile()  # the parser closes (and so deletes) the temporary file
        return super().receive_data_chunk(raw_data, start)


def files_from_request(request, field: str = "files") -> tuple[list, list[tuple[str, DocumentError]]]:
    """(uploaded files of ``field``, [(file name, error)] for those cut off as too large)."""
    files = request.FILES.getlist(field)  # parses the body, which fills the oversized list
    rejected = [(name or "upload", file_too_large())
                for field_name, name in getattr(request, _OVERSIZED_ATTR, []) if field_name == field]
    return files, rejected
