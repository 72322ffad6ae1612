"""Remove everything of one person: tasks, files, sessions, and the account; audit rows stay."""

from django.core.management.base import CommandError

from core.ops_command import OpsCommand, human_bytes
from tasks.maintenance import cleanup


class Command(OpsCommand):
    help = ("Delete a user's tasks, files and sessions, then the account (or only deactivate it with "
            "--keep-account). Audit rows are kept with the email.")

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("email", help="the user's email (case-insensitive)")
        parser.add_argument("--keep-account", action="store_true", help="keep the account row, deactivated")

    def run(self, *, dry_run, email, keep_account, **options):
        user = cleanup.user_find(email)
        if user is None:
            address = email.strip().lower()
            if cleanup.user_was_purged(address):  # a second run: nothing left to do, and that is fine
                self.summary(f"{address} was already purged; nothing left to delete", dry_run=dry_run)
                return
            raise CommandError(f"No user with the email {address!r}.")
        outcome = cleanup.purge_user(
            user=user, dry_run=dry_run, keep_account=keep_account,
            progress=lambda o: self.progress(f"{o.tasks} tasks, {o.files} files deleted"))
        verb = "would delete" if dry_run else "deleted"
        account = "deactivated" if keep_account else "deleted"
        self.summary(f"{verb} {outcome.tasks} tasks, {outcome.files} files ({human_bytes(outcome.bytes)}), "
                     f"{outcome.sessions} sessions of {user.email}; account {'would be ' if dry_run else ''}{account}; "
                     "audit rows kept", dry_run=dry_run, errors=outcome.errors)
