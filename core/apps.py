from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The bottom layer: what every app may use and that uses no app (docs/architecture.md)."""

    name = "core"
    verbose_name = "Core"
