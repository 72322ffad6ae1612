"""Errors every layer may raise."""

from django.core.exceptions import ImproperlyConfigured


class ConfigError(ImproperlyConfigured):
    """A setting or the environment cannot work: the process stops with this one line (manage.py prints it)."""
