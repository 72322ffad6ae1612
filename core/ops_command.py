"""Shared shape of the maintenance commands: --dry-run, progress, one summary line, exit code.

Every command ends with one line ``<command>: <what happened>`` (prefixed ``DRY RUN`` when
nothing was changed) that cron mail or journald shows, and exits non-zero when anything
failed, so a timer unit turns red.
"""

import sys
import time

from django.core.management.base import BaseCommand, CommandError


def human_bytes(n: int) -> str:
    value = float(n or 0)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


class OpsCommand(BaseCommand):
    progress_every = 2.0  # seconds between progress lines

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")

    def execute(self, *args, **options):
        self._last_progress = 0.0
        return super().execute(*args, **options)

    def progress(self, message: str) -> None:
        """A progress line at most every few seconds (stderr, so the summary on stdout stays one line)."""
        now = time.monotonic()
        if self.verbosity >= 1 and now - self._last_progress >= self.progress_every:
            self._last_progress = now
            self.stderr.write(f"  … {message}")
            sys.stderr.flush()

    def summary(self, text: str, *, dry_run: bool, errors=()) -> None:
        prefix = "DRY RUN " if dry_run else ""
        line = f"{prefix}{self.name}: {text}"
        if errors:
            for error in list(errors)[:20]:
                self.stderr.write(f"  error: {error}")
            raise CommandError(f"{line}; {len(errors)} error(s)")
        self.stdout.write(line)

    @property
    def name(self) -> str:
        return self.__module__.rsplit(".", 1)[-1]

    def handle(self, *args, **options):
        self.verbosity = options.get("verbosity", 1)
        return self.run(**options)

    def run(self, **options):  # pragma: no cover - each command implements it
        raise NotImplementedError
