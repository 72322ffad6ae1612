"""Serve the bundled development authentication API (never for production)."""

import json
import os

from django.core.management.base import BaseCommand, CommandError

from accounts.devauth.server import load_users, make_server


class Command(BaseCommand):
    help = "Serve the development company-auth API on 127.0.0.1 with demo users."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--users-file", default=os.environ.get("DEV_AUTH_USERS_FILE") or None,
                            help="JSON list of demo users (default: the bundled demo_users.json)")

    def handle(self, *args, host, port, users_file, **options):
        try:
            users = load_users(users_file)
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read demo users from {users_file}: {exc}") from exc
        extra = os.environ.get("DEV_AUTH_USERS_JSON")
        if extra:
            users += json.loads(extra)
        server = make_server(host, port, users)
        self.stdout.write(f"Development auth API on http://{host}:{server.server_address[1]} with {len(users)} demo users")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
