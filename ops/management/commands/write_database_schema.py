"""Write database_schema.sql from a freshly migrated scratch MariaDB/MySQL database."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ops.mysql_admin import MySQLServer
from ops.schema import build_schema


class Command(BaseCommand):
    help = "Regenerate database_schema.sql (needs a MariaDB/MySQL server; see MYSQL_ADMIN_URL)."

    def add_arguments(self, parser):
        parser.add_argument("--output", default=str(settings.BASE_DIR / "database_schema.sql"),
                            help="File to write ('-' for standard output)")
        parser.add_argument("--prefix", default=None, help="Table prefix (default: DATABASE_TABLE_PREFIX)")

    def handle(self, *args, output, prefix, **options):
        server = MySQLServer.from_env()
        if not server.available():
            raise CommandError("Cannot reach a MariaDB/MySQL server as an administrator: set MYSQL_ADMIN_URL "
                               "(e.g. mysql://root:pw@127.0.0.1:3306/).")
        try:
            sql = build_schema(server, prefix)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        if output == "-":
            self.stdout.write(sql, ending="")
            return
        Path(output).write_text(sql)
        self.stdout.write(f"Wrote {output} ({len(sql.splitlines())} lines)")
