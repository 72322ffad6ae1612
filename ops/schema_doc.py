"""docs/database.md from the models, so the documented schema cannot drift from the code.

Database-neutral (field types as Django names, the MySQL column types where they differ
noted once), deterministic (sorted), and written for one table prefix (default
``tool_ocr_``) whatever prefix the generating process runs with.
"""

from django.apps import apps
from django.conf import settings
from django.db import models
from django.db.migrations.recorder import MigrationRecorder

OUR_APPS = ("accounts", "tasks")


def _table(model, prefix):
    name = model._meta.db_table
    current = settings.DATABASE_TABLE_PREFIX
    return prefix + name[len(current):] if name.startswith(current) else name


def _type(field) -> str:
    kind = field.get_internal_type()
    if isinstance(field, models.ForeignKey):
        return f"FK → `{field.related_model._meta.db_table}`"
    if getattr(field, "max_length", None) and kind in ("CharField", "EmailField", "FileField", "SlugField",
                                                       "GenericIPAddressField", "URLField"):
        return f"{kind}({field.max_length})"
    return kind


def _default(field) -> str:
    if field.has_default():
        default = field.default
        if default in (dict, list):
            return repr(default())
        if hasattr(default, "value") and not callable(default):  # a choices member
            return repr(default.value)
        if callable(default):
            return f"{getattr(default, '__module__', '').split('.')[-1]}.{getattr(default, '__name__', 'callable')}()"
        return repr(default)
    return ""


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _fk_target(field, prefix):
    return _table(field.related_model, prefix)


def _model_section(model, prefix) -> list[str]:
    meta = model._meta
    table = _table(model, prefix)
    lines = [f"### `{table}`", ""]
    comment = getattr(meta, "db_table_comment", "") or ""
    lines.append(f"{comment or meta.verbose_name.capitalize()}. Model: `{meta.label}`.")
    lines += ["", "| column | type | null | default | notes |", "|---|---|---|---|---|"]
    for field in meta.local_fields:
        if isinstance(field, models.CompositePrimaryKey):  # listed below the columns
            continue
        kind = _type(field)
        if isinstance(field, models.ForeignKey):
            kind = f"FK → `{_fk_target(field, prefix)}`" + ("" if field.db_constraint else " (no constraint)")
            kind += f", on delete {field.remote_field.on_delete.__name__}"
        notes = []
        if field.primary_key:
            notes.append("primary key")
        if field.unique and not field.primary_key:
            notes.append("unique")
        if field.db_index and not field.unique and not isinstance(field, models.ForeignKey):
            notes.append("indexed")
        if getattr(field, "db_comment", None):
            notes.append(field.db_comment)
        if field.choices and not isinstance(field, models.ForeignKey):
            notes.append("one of: " + ", ".join(f"`{value}`" for value, _label in field.flatchoices))
        lines.append(f"| `{field.column}` | {_cell(kind)} | {'yes' if field.null else 'no'} | "
                     f"{_cell(_default(field))} | {_cell('; '.join(notes))} |")
    extras = []
    if isinstance(meta.pk, models.CompositePrimaryKey):
        extras.append(f"- primary key ({', '.join(meta.pk.field_names)})")
    for index in meta.indexes:
        columns = ", ".join(index.fields) if index.fields else "expressions"
        extras.append(f"- index `{index.name}` on ({columns})")
    for constraint in meta.constraints:
        fields = ", ".join(getattr(constraint, "fields", ()) or ())
        extras.append(f"- constraint `{constraint.name}` ({type(constraint).__name__}{': ' + fields if fields else ''})")
    for unique in meta.unique_together:
        extras.append(f"- unique together ({', '.join(unique)})")
    if extras:
        lines += ["", *extras]
    lines.append("")
    return lines


def _er_diagram(our_models, prefix) -> list[str]:
    lines = ["```mermaid", "erDiagram"]
    for model in our_models:
        for field in model._meta.local_fields:
            if isinstance(field, models.ForeignKey) and field.related_model in our_models:
                many = _table(model, prefix)
                one = _table(field.related_model, prefix)
                optional = "o|" if field.null else "||"
                lines.append(f'    {one} {optional}--o{{ {many} : "{field.name}"')
    lines.append("```")
    return lines


def views_and_procedures(prefix: str = "tool_ocr_") -> list[tuple[str, str, str]]:
    """[(kind, name, description)] from ops/sql/views_procedures.sql, its "-- doc:" lines."""
    import re

    from ops.schema import VIEWS_AND_PROCEDURES

    found, doc = [], []
    for line in VIEWS_AND_PROCEDURES.read_text().replace("{p}", prefix).splitlines():
        if line.startswith("-- doc:"):
            doc.append(line[len("-- doc:"):].strip())
            continue
        match = re.match(r"CREATE (?:OR REPLACE )?(VIEW|PROCEDURE) `([^`]+)`", line)
        if match:
            found.append((match.group(1).lower(), match.group(2), " ".join(doc)))
            doc = []
    return found


def _views_section(prefix: str) -> list[str]:
    out = ["## Views and maintenance procedures", "",
           "Created by `database_schema.sql` (from `ops/sql/views_procedures.sql`); `manage.py migrate` "
           "does not make them. The management commands are the supported way to clean up: they also remove "
           "files, which SQL cannot.", ""]
    for kind, name, description in views_and_procedures(prefix):
        out += [f"### `{name}` ({kind})", "", description or "(undocumented)", ""]
    return out


def build_database_doc(prefix: str = "tool_ocr_") -> str:
    all_models = sorted(apps.get_models(include_auto_created=True), key=lambda m: _table(m, prefix))
    ours = [m for m in all_models if m._meta.app_label in OUR_APPS]
    others = [m for m in all_models if m._meta.app_label not in OUR_APPS] + [MigrationRecorder.Migration]
    out = [
        "# Database schema",
        "",
        "<!-- Generated by `manage.py describe_schema` from the models; do not edit by hand. "
        "tests/ops/test_database_doc.py fails when it is out of date. -->",
        "",
        f"Every table starts with the prefix `DATABASE_TABLE_PREFIX` (here the default, `{prefix}`). "
        "The MySQL/MariaDB DDL with comments, views and maintenance procedures is `database_schema.sql` "
        "(`make schema`). UUID columns are `CHAR(32)` on MySQL/MariaDB (`tool_ocr/db_backends/mysql`), "
        "text columns `utf8mb4`.",
        "",
        "## Tool OCR's own tables",
        "",
        *_er_diagram(ours, prefix),
        "",
    ]
    for model in ours:
        out += _model_section(model, prefix)
    out += _views_section(prefix)
    out += ["## Tables of Django and the task queue", "",
            "Managed by Django (auth, admin, sessions, content types, migrations) and django-tasks-db (the OCR job "
            "queue); prefixed the same way.", ""]
    for model in others:
        out += _model_section(model, prefix)
    return "\n".join(out).rstrip() + "\n"
