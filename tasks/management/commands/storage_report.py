"""Bytes per user, files without a row and rows without a file; --fix removes both kinds."""

from datetime import timedelta

from django.core.management.base import CommandError

from core.ops_command import OpsCommand, human_bytes
from tasks.maintenance import cleanup
from tasks.maintenance import reports


class Command(OpsCommand):
    help = ("Report stored bytes per user, orphan files in storage (no row points to them) and TaskFile rows "
            "whose file is missing. --fix deletes orphan files older than --grace-minutes and the rows of "
            "missing files.")

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--fix", action="store_true", help="delete orphan files and rows of missing files")
        parser.add_argument("--grace-minutes", type=int, default=60,
                            help="ignore files newer than this: an upload may still be committing (default 60)")
        parser.add_argument("--top", type=int, default=20, help="users listed (default 20; 0: all)")

    def run(self, *, dry_run, fix, grace_minutes, top, **options):
        if grace_minutes < 0 or top < 0:
            raise CommandError("--grace-minutes and --top must be 0 or more.")
        users = reports.storage_by_user()
        total = sum(row[3] for row in users)
        self.stdout.write(f"Stored bytes per user ({len(users)} users, {human_bytes(total)} in all):")
        for email, tasks, files, size in users[: top or None]:
            self.stdout.write(f"  {human_bytes(size):>10}  {files:>7} files  {tasks:>7} tasks  {email}")

        orphans = list(reports.orphan_files(grace=timedelta(minutes=grace_minutes),
                                            progress=lambda n: self.progress(f"{n} task folders scanned")))
        missing = list(reports.rows_without_file(progress=lambda n: self.progress(f"{n} file rows checked")))
        for orphan in orphans[:50]:
            self.stdout.write(f"  orphan file ({orphan.reason}): {orphan.name} {human_bytes(orphan.size)}")
        for pk, name, task_id in missing[:50]:
            self.stdout.write(f"  missing file: row {pk} of task {task_id}: {name or '(no name)'}")

        apply = fix and not dry_run
        errors = []
        if apply:
            done = cleanup.Outcome()
            cleanup.orphan_files_delete([o.name for o in orphans], done)
            cleanup.missing_file_rows_delete([pk for pk, _n, _t in missing], done)
            errors = done.errors
        orphan_bytes = sum(o.size for o in orphans)
        action = "removed" if apply else ("would remove with --fix" if fix or dry_run else "found")
        self.summary(f"{len(users)} users, {human_bytes(total)} stored; {len(orphans)} orphan files "
                     f"({human_bytes(orphan_bytes)}) and {len(missing)} rows without a file {action}",
                     dry_run=dry_run, errors=errors)
