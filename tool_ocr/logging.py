"""Structured logs: one JSON object per line, with the request and user they belong to.

Why here: every module logs with ``logging.getLogger(...)`` and ``extra={...}``; this module
turns that into lines an operator can filter (``request_id``, ``user_id``, ``task_id``) and
scrubs secrets as a last line of defence, so a careless ``extra={"password": ...}`` or a
token in a message never reaches the disk.
"""

import functools
import logging
import re

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

# --- Redaction ---------------------------------------------------------------
REDACTED = "[redacted]"
# Attribute names whose values never belong in a log (passwords, tokens, document text, cookies).
SECRET_KEYS = re.compile(
    r"(pass(word|wd)?|secret|token|authorization|cookie|session_?key|api_?key|credential|"
    r"^text$|_text$|^content$|ocr_text|document_text)",
    re.IGNORECASE,
)
# Values that look like secrets wherever they appear: bearer tokens, JWTs, Fernet tokens, key=value secrets.
SECRET_PATTERNS = [
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), REDACTED),  # JWT
    (re.compile(r"\bgAAAAA[A-Za-z0-9_=-]{20,}"), REDACTED),  # Fernet
    (re.compile(r"(?i)\b(password|passwd|token|secret|access_token|refresh_token|id_token|sessionid|csrftoken)"
                r"(\s*[=:]\s*|\"\s*:\s*\")[^\s&,;\"']+"), r"\1\2" + REDACTED),
]
# Any of the patterns at all: most strings (every request's path and address) match none, and one search
# costs a quarter of the four substitutions (benchmarks/load.py counts the CPU of every request).
_ANY_SECRET = re.compile("|".join(f"(?i:{p.pattern[4:]})" if p.pattern.startswith("(?i)") else f"(?:{p.pattern})"
                                  for p, _ in SECRET_PATTERNS))
_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}


def scrub(text: str) -> str:
    """Replace anything that looks like a secret in a string."""
    if not _ANY_SECRET.search(text):
        return text
    for pattern, replacement in SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


@functools.lru_cache(maxsize=1024)
def _secret_key(key: str) -> bool:
    """Whether an attribute of this name never belongs in a log (the same few names come on every line)."""
    return bool(SECRET_KEYS.search(key))


def _scrub_value(key, value, depth=0):
    if _secret_key(str(key)):
        return REDACTED
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict) and depth < 4:
        return {k: _scrub_value(k, v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and depth < 4:
        return [_scrub_value("", v, depth + 1) for v in value]
    return value


class RedactionFilter(logging.Filter):
    """Safety net: masks secret-named extra fields and secret-looking strings in the message."""

    def filter(self, record):
        if isinstance(record.msg, str):
            record.msg = scrub(record.msg)
        if record.args:
            if isinstance(record.args, dict):
                record.args = {k: _scrub_value(k, v) for k, v in record.args.items()}
            else:
                record.args = tuple(_scrub_value("", a) for a in record.args)
        for key in list(vars(record)):
            if key in _STANDARD:
                continue
            setattr(record, key, _scrub_value(key, getattr(record, key)))
        return True


# --- Formatting ---------------------------------------------------------------
class JsonFormatter(_JsonFormatter):
    """``{"time", "level", "logger", "message", ...extra}``; tracebacks are scrubbed too."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger", "asctime": "time"})
        kwargs.setdefault("timestamp", False)
        super().__init__(*args, **kwargs)

    def formatException(self, ei):
        return scrub(super().formatException(ei))

    def add_fields(self, log_record, record, message_dict):
        super().add_fields(log_record, record, message_dict)
        for key in ("request_id", "user_id", "task_id"):
            if key in log_record and log_record[key] is None:
                del log_record[key]


JSON_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s user=%(user_id)s] %(message)s"


class PlainFormatter(logging.Formatter):
    """Human-readable lines for local development (LOG_FORMAT=plain)."""

    def format(self, record):
        for key in ("request_id", "user_id"):
            if not hasattr(record, key):
                setattr(record, key, "-")
        return scrub(super().format(record))


def build_logging(*, level: str = "INFO", fmt: str = "json") -> dict:
    """The LOGGING dict for settings: console handler, context and redaction filters on every line."""
    formatter = ({"()": "tool_ocr.logging.JsonFormatter", "fmt": JSON_FORMAT} if fmt == "json"
                 else {"()": "tool_ocr.logging.PlainFormatter", "fmt": PLAIN_FORMAT})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": "core.log_context.ContextFilter"},
            "redact": {"()": "tool_ocr.logging.RedactionFilter"},
            "auth_metrics": {"()": "ops.metrics.AuthCallMetricsFilter"},
        },
        "formatters": {"default": formatter},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "default", "filters": ["context", "redact"],
                        "level": level},
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Replaces Django's own handlers (its DEBUG console and mail_admins): every line goes through ours.
            "django": {"handlers": [], "propagate": True},
            "django.db.backends": {"level": "WARNING"},
            # Django's own request log duplicates tool_ocr.request; keep its errors only.
            "django.request": {"level": "ERROR"},
            "django.server": {"level": "WARNING"},
            # The auth client logs every call with operation/outcome/latency: the metrics read them there.
            # INFO whatever LOG_LEVEL says (the handler still drops what is below LOG_LEVEL), so the
            # metrics filter sees every call.
            "tool_ocr.external_auth": {"filters": ["auth_metrics"], "level": "INFO"},
        },
    }
