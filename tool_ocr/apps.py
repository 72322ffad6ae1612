from django.apps import AppConfig


class ToolOcrConfig(AppConfig):
    """The project package as an app: observability signal hooks and operator commands."""

    name = "tool_ocr"
    verbose_name = "Operations"

    def ready(self):
        from tool_ocr import signals

        signals.connect()
