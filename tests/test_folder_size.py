"""No folder of the project holds more than 20 Python modules (issue 12, docs/architecture.md).

A folder that grows past that splits into sub-packages by job; `migrations/` folders, which
Django reads flat, stay under it by squashing (docs/architecture.md says what may be squashed).
"""

from pathlib import Path

import pytest

pytestmark = pytest.mark.db_independent  # files on disk, no database

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("core", "accounts", "tasks", "ops", "tool_ocr", "tests", "benchmarks", "scripts")
LIMIT = 20


def folder_sizes() -> dict[str, int]:
    """Modules (*.py, __init__.py included) per folder, for every folder under the project's roots."""
    sizes = {}
    for root in FOLDERS:
        for folder in [ROOT / root, *(p for p in (ROOT / root).rglob("*") if p.is_dir())]:
            if "__pycache__" in folder.parts:
                continue
            count = sum(1 for p in folder.glob("*.py"))
            if count:
                sizes[str(folder.relative_to(ROOT))] = count
    return sizes


def test_no_folder_holds_more_than_twenty_modules():
    too_big = {folder: n for folder, n in folder_sizes().items() if n > LIMIT}
    assert not too_big, f"folders over {LIMIT} modules (split by job, or squash migrations): {too_big}"


def test_the_count_sees_the_largest_folders():
    """The walk really counts: the migrations folder and tests/ are found with their modules."""
    sizes = folder_sizes()
    assert sizes["tasks/migrations"] >= 10
    assert sizes["tasks"] >= 5 and sizes["tests/tasks"] >= 5
