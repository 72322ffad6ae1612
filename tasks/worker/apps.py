from django.apps import AppConfig


class WorkerConfig(AppConfig):
    name = "tasks.worker"
    label = "tasks_worker"
    verbose_name = "OCR worker"
