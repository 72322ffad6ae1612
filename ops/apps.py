from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operating the site: observability signal hooks, probes, metrics, the schema tools and their commands."""

    name = "ops"
    verbose_name = "Operations"

    def ready(self):
        from ops import signals

        signals.connect()
