"""Print the database connection and MEDIA_ROOT as shell assignments, for scripts/backup.sh and restore.sh.

The scripts then read the same settings the app does (.env or TOOL_OCR_ENV_FILE, then the
environment), without parsing DATABASE_URL themselves. The password is exported as MYSQL_PWD,
which the mariadb tools read, so it never appears on a command line.
"""

import shlex

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Shell assignments of the database connection and MEDIA_ROOT (used by scripts/backup.sh)."

    def handle(self, *args, **options):
        db = settings.DATABASES["default"]
        engine = "mysql" if "mysql" in db["ENGINE"] else "sqlite"
        values = {"DB_ENGINE": engine, "DB_HOST": db.get("HOST") or "localhost", "DB_PORT": str(db.get("PORT") or 3306),
                  "DB_USER": db.get("USER") or "", "DB_NAME": str(db.get("NAME") or ""),
                  "MEDIA": str(settings.MEDIA_ROOT), "FILE_STORAGE": getattr(settings, "FILE_STORAGE", "local"),
                  "BUCKET": getattr(settings, "AWS_STORAGE_BUCKET_NAME", "") or "",
                  "BUCKET_ENDPOINT": getattr(settings, "AWS_S3_ENDPOINT_URL", "") or "AWS S3"}
        for name, value in values.items():
            self.stdout.write(f"{name}={shlex.quote(value)}")
        if db.get("PASSWORD"):
            self.stdout.write(f"export MYSQL_PWD={shlex.quote(db['PASSWORD'])}")
