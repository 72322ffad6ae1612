"""Where each kind of task file is downloaded (the JSON API's URLs, which the pages link too)."""

from tasks.models import TaskFile

SUFFIX_BY_KIND = {TaskFile.Kind.ORIGINAL: "original", TaskFile.Kind.RESULT_TXT: "result.txt",
                  TaskFile.Kind.RESULT_JSON: "result.json", TaskFile.Kind.RESULT_PDF: "result.pdf"}
LABEL_BY_KIND = {TaskFile.Kind.ORIGINAL: "Original", TaskFile.Kind.RESULT_TXT: "TXT",
                 TaskFile.Kind.RESULT_JSON: "JSON", TaskFile.Kind.RESULT_PDF: "PDF"}
_ORDER = list(SUFFIX_BY_KIND)


def file_url(task_id, kind: str) -> str:
    return f"/api/v1/tasks/{task_id}/{SUFFIX_BY_KIND.get(kind, kind)}"


def sorted_files(files):
    """Results first in a fixed order (txt, json, pdf), the original last."""
    order = _ORDER[1:] + _ORDER[:1]
    return sorted(files, key=lambda f: order.index(f.kind) if f.kind in order else len(order))
