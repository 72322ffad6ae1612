"""Each kind of task file in one table: stored kind, download URL, storage name, labels, content type.

The pages, the history, the API's task body and download routes, the storage and the worker all read
it here, so a kind is named, ordered and linked the same way everywhere. The downloads are the JSON
API's URLs, which the pages link to too (owner check and audit there).
"""

from dataclasses import dataclass

from django.urls import get_script_prefix

from tasks.models import TaskFile


@dataclass(frozen=True)
class FileKind:
    kind: str               # TaskFile.Kind, as stored
    suffix: str             # the download URL's last part: /api/v1/tasks/<id>/<suffix>
    storage_name: str       # the file's name in the task's folder (the original's depends on its type)
    label: str              # the task page's download link
    short_label: str        # the history's compact link
    content_type: str = ""  # a result's type (the original keeps the upload's)
    name_ending: str = ""   # a result's download name: the upload's name without its extension, then this


RESULT_TXT = FileKind(TaskFile.Kind.RESULT_TXT, "result.txt", "result.txt", "Text", "TXT",
                      "text/plain; charset=utf-8", ".txt")
RESULT_JSON = FileKind(TaskFile.Kind.RESULT_JSON, "result.json", "result.json", "JSON with boxes", "JSON",
                       "application/json", ".json")
RESULT_PDF = FileKind(TaskFile.Kind.RESULT_PDF, "result.pdf", "result.pdf", "Searchable PDF", "PDF",
                      "application/pdf", ".ocr.pdf")
ORIGINAL = FileKind(TaskFile.Kind.ORIGINAL, "original", "original", "Original", "Original")

KINDS = (RESULT_TXT, RESULT_JSON, RESULT_PDF, ORIGINAL)  # the order every list shows them in: results first
BY_KIND = {k.kind: k for k in KINDS}

# The original's storage name by the type the upload check found (tasks.documents).
ORIGINAL_NAMES = {"image/png": "original.png", "image/jpeg": "original.jpg", "image/tiff": "original.tif",
                  "image/bmp": "original.bmp", "image/webp": "original.webp", "application/pdf": "original.pdf"}


def file_url(task_id, kind: str) -> str:
    """The download's URL under the request's script prefix (SCRIPT_NAME behind a proxy at a sub-path)."""
    return f"{get_script_prefix()}api/v1/tasks/{task_id}/{BY_KIND[kind].suffix}"


def sorted_files(files):
    """Results first in a fixed order (txt, json, pdf), the original last."""
    order = [k.kind for k in KINDS]
    return sorted(files, key=lambda f: order.index(f.kind) if f.kind in order else len(order))
