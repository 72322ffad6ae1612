"""Delete token sessions that are revoked, expired or whose browser session is gone, and expired Django sessions."""

from datetime import timedelta

from django.core.management.base import CommandError

from accounts import maintenance
from core.ops_command import OpsCommand


class Command(OpsCommand):
    help = ("Delete token sessions revoked or expired more than --grace-hours ago or whose browser session is "
            "gone, and expired Django sessions.")

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--grace-hours", type=float, default=24,
                            help="keep revoked/expired rows this long so the browser can be told why (default 24)")

    def run(self, *, dry_run, grace_hours, **options):
        if grace_hours < 0:
            raise CommandError("--grace-hours must be 0 or more.")
        result = maintenance.sessions_cleanup(grace=timedelta(hours=grace_hours), dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        self.summary(f"{verb} {result.token_sessions} token sessions and {result.django_sessions} expired "
                     "browser sessions", dry_run=dry_run)
