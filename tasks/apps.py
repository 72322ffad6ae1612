from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = "OCR tasks"

    def ready(self):
        from tasks.history import signals  # noqa: F401  (keeps TaskStorage in step with TaskFile)
