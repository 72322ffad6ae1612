from django.apps import AppConfig


class HistoryConfig(AppConfig):
    name = "history"
    verbose_name = "Task history"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from history import signals  # noqa: F401  (keeps TaskStorage in step with TaskFile)
