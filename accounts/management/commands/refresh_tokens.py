"""Renew the company tokens of sessions near expiry; run by a scheduler every minute or so."""

from django.core.management.base import BaseCommand

from accounts.services import RefreshOutcome, token_sessions_refresh_due


class Command(BaseCommand):
    help = ("Refresh the company API tokens of signed-in sessions that expire within "
            "TOKEN_REFRESH_BUFFER seconds. Safe to run while the web server refreshes too: "
            "each session is renewed once. Run it more often than TOKEN_REFRESH_BUFFER.")

    def handle(self, *args, **options):
        counts = token_sessions_refresh_due()
        summary = " ".join(f"{outcome.value}={counts.get(outcome, 0)}" for outcome in RefreshOutcome
                           if outcome != RefreshOutcome.NOT_DUE)
        self.stdout.write(f"refresh_tokens: {sum(counts.values())} due; {summary}")
