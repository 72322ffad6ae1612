from django.apps import AppConfig


class DbWorkerConfig(AppConfig):
    """Holds only ``manage.py db_worker``; listed before django_tasks_db so this command is the one run."""

    name = "tasks.dbworker"
    label = "tasks_dbworker"
    verbose_name = "OCR worker command"
