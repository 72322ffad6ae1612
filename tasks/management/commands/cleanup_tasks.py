"""Delete finished tasks older than TASK_RETENTION_DAYS, with their files, in batches."""

from django.conf import settings
from django.core.management.base import CommandError

from core.ops_command import OpsCommand, human_bytes
from tasks.maintenance import cleanup


class Command(OpsCommand):
    help = ("Delete completed, failed and cancelled tasks created more than TASK_RETENTION_DAYS days ago, "
            "their files, and finished queue rows as old. Waiting or running tasks are left to reap_stuck_tasks.")

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--days", type=int, default=None, help="override TASK_RETENTION_DAYS")
        parser.add_argument("--batch-size", type=int, default=500, help="tasks per transaction (default 500)")

    def run(self, *, dry_run, days, batch_size, **options):
        days = settings.TASK_RETENTION_DAYS if days is None else days
        if days < 1 or batch_size < 1:
            raise CommandError("--days and --batch-size must be at least 1.")
        outcome = cleanup.cleanup_tasks(
            days=days, batch_size=batch_size, dry_run=dry_run,
            progress=lambda o: self.progress(f"{o.tasks} tasks, {o.files} files deleted"))
        verb = "would delete" if dry_run else "deleted"
        self.summary(f"{verb} {outcome.tasks} tasks older than {days} days, {outcome.files} files "
                     f"({human_bytes(outcome.bytes)}), {outcome.queue_rows} queue rows",
                     dry_run=dry_run, errors=outcome.errors)
