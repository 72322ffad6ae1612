"""Re-encrypt every stored token with the newest TOKEN_ENCRYPTION_KEYS key (key rotation)."""

from django.core.management.base import BaseCommand, CommandError

from accounts.services import token_sessions_rotate_keys


class Command(BaseCommand):
    help = ("Re-encrypt the stored company tokens with the first key of TOKEN_ENCRYPTION_KEYS. "
            "Rotate: put a new key first, run this, then remove the old key.")

    def handle(self, *args, **options):
        result = token_sessions_rotate_keys()
        self.stdout.write(f"rotate_token_keys: {result['rotated']} sessions re-encrypted with the newest key")
        if result["unreadable"]:
            raise CommandError(f"{result['unreadable']} sessions could not be decrypted with any configured key; "
                               "keep their old key in TOKEN_ENCRYPTION_KEYS and run again, or revoke them.")
