"""List the periodic jobs (interval, next run) and, with --schedule, queue any that is missing."""

from django.core.management.base import BaseCommand

from tasks.jobs import PERIODIC_JOBS, ensure_periodic_scheduled, waiting_runs


class Command(BaseCommand):
    help = ("Show each periodic job the workers run, its interval setting and its next run. --schedule queues "
            "the jobs that have no run waiting (the worker start does this).")

    def add_arguments(self, parser):
        parser.add_argument("--schedule", action="store_true", help="queue missing jobs first")

    def handle(self, *args, schedule=False, **options):
        queued = ensure_periodic_scheduled() if schedule else []
        waiting = waiting_runs()
        for job in PERIODIC_JOBS:
            interval = job.interval
            when = waiting.get(job.name)
            state = "off" if interval <= 0 else (f"next run {when:%Y-%m-%d %H:%M:%S %Z}" if when else "NOT QUEUED")
            self.stdout.write(f"{job.name:<18} every {interval:>7} s ({job.setting})  {state}  -- {job.purpose}")
        missing = [job.name for job in PERIODIC_JOBS if job.interval > 0 and job.name not in waiting]
        self.stdout.write(f"periodic_jobs: {len(PERIODIC_JOBS) - len(missing)} of {len(PERIODIC_JOBS)} queued"
                          + (f", queued now: {', '.join(queued)}" if queued else "")
                          + (f"; missing: {', '.join(missing)} (start a worker, or run with --schedule)"
                             if missing else ""))
