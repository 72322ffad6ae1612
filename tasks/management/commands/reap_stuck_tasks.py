"""Operators' and cron's way to run the reaper now (the periodic job does the same every REAPER_INTERVAL)."""

from django.core.management.base import BaseCommand, CommandError

from tasks.jobs import ensure_reaper_scheduled
from tasks.reaper import reap_stuck_tasks


class Command(BaseCommand):
    help = ("Re-queue tasks whose worker stopped (no heartbeat for TASK_HEARTBEAT_TIMEOUT seconds) once, "
            "then fail them with a reason; re-send pending tasks whose queue job was lost.")

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=int, default=None,
                            help="Seconds without a heartbeat that count as stuck (default: TASK_HEARTBEAT_TIMEOUT).")
        parser.add_argument("--dry-run", action="store_true", help="Only report what would be done.")
        parser.add_argument("--schedule", action="store_true",
                            help="Also make sure the periodic jobs are queued (workers then run the reaper every "
                                 "REAPER_INTERVAL seconds; see manage.py periodic_jobs).")

    def handle(self, *args, timeout=None, schedule=False, dry_run=False, **options):
        if timeout is not None and timeout < 0:
            raise CommandError("--timeout must be 0 or more seconds.")
        report = reap_stuck_tasks(timeout=timeout, dry_run=dry_run)
        if schedule and not dry_run:
            ensure_reaper_scheduled()
        self.stdout.write(str(report))
        prefix = "would be " if dry_run else ""
        for label, ids in (("re-queued", report.requeued), ("failed", report.failed), ("re-sent", report.resent)):
            for task_id in ids:
                self.stdout.write(f"  {prefix}{label}: {task_id}")
