from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and sign-in"

    def ready(self):
        from accounts import signals  # noqa: F401 - connects the receivers
        from accounts.breaker import BreakerOpen
        from accounts.external_auth import ServiceUnavailable
        from core.dependencies import register_unavailable

        # The sign-in API down is a 503 like the database (core.dependencies), raised here or by the breaker.
        register_unavailable("auth_api", ServiceUnavailable, BreakerOpen)
