"""Give every table the app creates the DATABASE_TABLE_PREFIX.

Connected to ``class_prepared`` from settings, before any model class exists, so
Django's own tables (auth, sessions, admin, content types, the migrations record),
the task queue's tables and auto-created many-to-many tables all get the prefix.
Our own models declare short logical names (``users``), prefixed here too, so the
migration files stay prefix-free and a non-default prefix needs no new migration.
"""

from django.db.models.signals import class_prepared

_prefix = ""


def apply_prefix(sender, **kwargs):
    meta = sender._meta
    if not _prefix or meta.proxy or not meta.managed:
        return
    if getattr(meta, "_tool_ocr_prefixed", False):
        return
    meta.db_table = f"{_prefix}{meta.db_table}"
    meta._tool_ocr_prefixed = True


def install(prefix: str) -> None:
    """Activate the prefix; idempotent so that settings may be re-imported."""
    global _prefix
    _prefix = prefix
    class_prepared.connect(apply_prefix, dispatch_uid="tool_ocr_table_prefix")
