"""Several uploads in one request, all or nothing, on top of services.task_create.

A request with five files where the fourth is refused must not leave three tasks
behind that the caller never got ids for: the rows roll back together and the files
already written are removed. Nothing is queued unless every file was taken.
"""

from django.db import transaction

from tasks import services
from tasks.errors import ServiceError
from tasks.storage import delete_task_folder


def tasks_create_from_uploads(*, user, uploaded_files, engine=None, language=None) -> list:
    """One task per file, queued after commit; a refusal (tasks.errors.ServiceError) names the file.

    ``details`` of the refusal gain ``file`` (its name) and ``index`` (0-based position).
    """
    files = list(uploaded_files)
    tasks = []
    try:
        with transaction.atomic():
            for index, upload in enumerate(files):
                try:
                    task = services.task_create(user=user, uploaded_file=upload, engine=engine, language=language)
                except ServiceError as exc:
                    exc.details = {**exc.details, "file": upload.name, "index": index, "files_in_request": len(files)}
                    if len(files) > 1:
                        exc.message = f"“{upload.name}”: {exc.message} No file of this upload was kept."
                    raise
                tasks.append(task)
    except BaseException:
        for task in tasks:  # their rows rolled back; their folders (original files) go too
            delete_task_folder(task)
        raise
    return tasks
