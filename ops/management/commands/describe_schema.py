"""Write docs/database.md (tables, columns, indexes, relations) from the models."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ops.schema_doc import build_database_doc


class Command(BaseCommand):
    help = "Regenerate docs/database.md from the models (no database needed). --check: exit 1 if it is stale."

    def add_arguments(self, parser):
        parser.add_argument("--output", default=str(settings.BASE_DIR / "docs" / "database.md"),
                            help="file to write ('-' for standard output)")
        parser.add_argument("--prefix", default="tool_ocr_", help="table prefix to document (default tool_ocr_)")
        parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the file differs")

    def handle(self, *args, output, prefix, check, **options):
        text = build_database_doc(prefix)
        if output == "-":
            self.stdout.write(text, ending="")
            return
        path = Path(output)
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                raise CommandError(f"{path} is out of date: run `manage.py describe_schema`.")
            self.stdout.write(f"describe_schema: {path} is current")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.stdout.write(f"describe_schema: wrote {path}")
