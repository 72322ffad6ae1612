"""docs/database.md is generated from the models: it must match them."""

from pathlib import Path

from ops.schema_doc import build_database_doc

DOC = Path(__file__).resolve().parents[2] / "docs" / "database.md"


def test_database_doc_is_current():
    assert DOC.read_text(encoding="utf-8") == build_database_doc("tool_ocr_"), (
        "docs/database.md is out of date: run `DEBUG=true .venv/bin/python manage.py describe_schema`")


def test_database_doc_uses_the_prefix_asked_for():
    text = build_database_doc("acme_")
    assert "### `acme_tasks`" in text and "### `acme_users`" in text and "FK → `acme_users`" in text
    assert "tool_ocr_tasks" not in text
