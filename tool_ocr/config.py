"""Read and validate the environment once, at start-up.

Every setting is read here so that a bad value stops the process with a message
that names the variable and what it accepts, instead of failing later, deep in a
request or a worker.
"""

import os
import re
from pathlib import Path

import environ

from core.errors import ConfigError  # raised here; manage.py and the settings import it from here too


_IDENT_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class Config:
    """Typed accessors over the environment (os.environ, after .env is read) that raise ConfigError on bad input."""

    def _raw(self, name, default):
        """The variable's text; unset or empty (``NAME=`` in .env) means the default."""
        value = os.environ.get(name)
        return default if value is None or not value.strip() else value

    def str(self, name, default, choices=None):
        value = str(self._raw(name, default)).strip()
        if choices and value not in choices:
            raise ConfigError(f"{name}={value!r} is not valid: use one of {', '.join(choices)}.")
        return value

    def bool(self, name, default):
        value = str(self._raw(name, default)).strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ConfigError(f"{name}={value!r} is not valid: use true or false.")

    def _number(self, name, default, kind, minimum, maximum):
        raw = str(self._raw(name, default)).strip()
        try:
            value = kind(raw)
        except ValueError:
            noun = "a whole number" if kind is int else "a number"
            raise ConfigError(f"{name}={raw!r} is not valid: use {noun} {_range(minimum, maximum)}.") from None
        if value != value or (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            noun = "a whole number" if kind is int else "a number"
            raise ConfigError(f"{name}={raw!r} is not valid: use {noun} {_range(minimum, maximum)}.")
        return value

    def int(self, name, default, minimum=None, maximum=None):
        return self._number(name, default, int, minimum, maximum)

    def float(self, name, default, minimum=None, maximum=None):
        return self._number(name, default, float, minimum, maximum)

    def list(self, name, default):
        raw = str(self._raw(name, default))
        return [item.strip() for item in raw.split(",") if item.strip()]

    def header_name(self, name, default):
        """An HTTP header as people write it (X-Forwarded-For) or as Django names it (HTTP_X_FORWARDED_FOR)."""
        value = str(self._raw(name, default)).strip()
        if value and not re.match(r"^[A-Za-z][A-Za-z0-9_-]{0,99}$", value):
            raise ConfigError(f"{name}={value!r} is not valid: use a header name such as X-Forwarded-For "
                              "(or HTTP_X_FORWARDED_FOR), or leave it empty.")
        return value

    def networks(self, name, default):
        """Comma-separated IP addresses or networks (10.0.0.0/8)."""
        import ipaddress

        values = self.list(name, default)
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ConfigError(f"{name} has {value!r}: use IP addresses or networks like 10.0.0.0/8, "
                                  "comma-separated.") from None
        return values

    def table_prefix(self, name, default):
        value = str(self._raw(name, default)).strip()
        if not _IDENT_PREFIX.match(value):
            raise ConfigError(
                f"{name}={value!r} is not valid: use 1 to 32 characters of letters, digits and "
                "underscores that starts with a letter or an underscore (a MySQL identifier start), "
                "for example tool_ocr_."
            )
        return value

    def path(self, name, default, base: Path):
        raw = str(self._raw(name, default)).strip()
        if not raw:
            raise ConfigError(f"{name} is empty: use a folder path.")
        path = Path(raw)
        return path if path.is_absolute() else (base / path).resolve()

    def url(self, name, default):
        value = str(self._raw(name, default)).strip().rstrip("/")
        if not re.match(r"^https?://[^/\s]+", value):
            raise ConfigError(f"{name}={value!r} is not valid: use an http:// or https:// URL.")
        return value

    def language(self, name, default):
        """A BCP 47 tag or several joined with + that tasks.ocr.languages knows, in canonical spelling."""
        from tasks.ocr.languages import LanguageError, parse

        raw = str(self._raw(name, default)).strip()
        try:
            return "+".join(parse(raw))
        except LanguageError as exc:
            raise ConfigError(f"{name}={raw!r} is not valid: {exc}.") from None

    def preload_engines(self, name, default):
        """``all``, ``none`` or OCR engine names separated by commas -> a list of names."""
        engines = ["easyocr", "tesseract"]
        raw = str(self._raw(name, default)).strip().lower()
        if raw == "all":
            return engines
        if raw == "none":
            return []
        names = [n.strip() for n in raw.split(",") if n.strip()]
        if not names or any(n not in engines for n in names):
            raise ConfigError(f"{name}={raw!r} is not valid: use all, none, or some of {', '.join(engines)}.")
        return names

    def db_url(self, name, default):
        raw = str(self._raw(name, default)).strip()
        try:
            config = environ.Env.db_url_config(raw)
        except Exception as exc:  # environ raises several types for bad URLs
            raise ConfigError(f"{name}={raw!r} is not valid ({exc}): use sqlite:///path or mysql://user:pass@host:port/db.") from None
        engine = config.get("ENGINE", "")
        if engine not in ("django.db.backends.sqlite3", "django.db.backends.mysql"):
            raise ConfigError(f"{name}={raw!r} is not valid: use an sqlite:/// or mysql:// URL.")
        return config


def _range(minimum, maximum):
    if minimum is not None and maximum is not None:
        return f"from {minimum} to {maximum}"
    if minimum is not None:
        return f"of at least {minimum}"
    if maximum is not None:
        return f"of at most {maximum}"
    return ""
