"""Several uploads in one request, all or nothing (services.tasks_create does the work).

A request with five files where the fourth is refused must not leave three tasks
behind that the caller never got ids for: the rows roll back together and the files
already written are removed; a process killed half-way leaves staging records that the
cleanup follows (tasks.files.staging). Nothing is queued unless every file was taken.
"""

from tasks import services


def tasks_create_from_uploads(*, user, uploaded_files, engine=None, language=None, upload_key=None) -> list:
    """One task per file, queued after commit; a refusal (tasks.errors.ServiceError) names the file.

    ``details`` of the refusal gain ``file`` (its name) and ``index`` (0-based position).
    """
    return services.tasks_create(user=user, uploaded_files=uploaded_files, engine=engine, language=language,
                                 upload_key=upload_key).tasks
