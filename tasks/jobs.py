"""Background jobs run by ``manage.py db_worker`` (the Django Tasks API, database backend)."""

from django_tasks import task


@task()
def process_task(task_id: str) -> str:
    from tasks.processing import run_task

    return run_task(task_id)
