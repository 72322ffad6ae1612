"""Errors every layer may raise.

``AppError`` is the one error type for everything a person or the API is told: ``code`` (snake_case,
stable, for the API and the metrics), ``message`` (for a person), ``status`` (the HTTP status) and
``details`` (plain data). Services raise it; the API renders it as ``{"error": {"code", "message",
"details"}}`` with its status (tool_ocr.api), the pages show its message. Subclasses only set a code
and status (or build the message) where a caller needs its own ``except`` clause.
"""

from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, JsonResponse


class ConfigError(ImproperlyConfigured):
    """A setting or the environment cannot work: the process stops with this one line (manage.py prints it)."""


class AppError(Exception):
    code = "error"
    status = 400
    message = "Something is not right."

    def __init__(self, message: str | None = None, *, code: str | None = None, status: int | None = None,
                 details: dict | None = None):
        self.message = message or self.message
        super().__init__(self.message)
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details or {}

    def response(self) -> JsonResponse:
        """The API's answer: the contract's error body with this error's status."""
        return error_response(self.status, self.code, self.message, self.details)


class NotFound(AppError, Http404):
    """404: the API answers it in the error shape with its message, a page with the branded 404 page."""

    code, status, message = "not_found", 404, "Not found."


def error_response(status: int, code: str, message: str, details: dict | None = None) -> JsonResponse:
    """``{"error": {"code", "message", "details"}}``: the one shape of every error the API answers."""
    return JsonResponse({"error": {"code": code, "message": message, "details": details or {}}}, status=status)
