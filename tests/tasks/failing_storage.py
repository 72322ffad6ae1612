"""A storage that fails half-way through writing a file, as a full disk or a dropped share would."""

import os

from django.core.files.storage import FileSystemStorage


class HalfWriteStorage(FileSystemStorage):
    def _save(self, name, content):
        path = self.path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        content.seek(0)
        data = content.read()
        with open(path, "wb") as fh:
            fh.write(data[: len(data) // 2])
        raise OSError(28, "No space left on device")


class FailingResultsStorage(FileSystemStorage):
    """Stores uploads, but fails on result.json: a disk that fills up while the results are written."""

    def _save(self, name, content):
        if name.endswith("result.json"):
            raise OSError(28, "No space left on device")
        return super()._save(name, content)


class FailingRerunResultsStorage(FileSystemStorage):
    """Fails on the JSON result of a task's first re-run (result-r1.json): a disk that fills up mid-swap."""

    def _save(self, name, content):
        if name.endswith("result-r1.json"):
            raise OSError(28, "No space left on device")
        return super()._save(name, content)
