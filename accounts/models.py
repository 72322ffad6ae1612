"""People and their signed-in browser sessions.

A directory person is identified by the directory's stable ``external_id``
(``userInfo.id``); the email is an attribute that may change. Emails are stored
normalised (NFKC + casefold) and compared byte for byte (a binary collation on MySQL),
so look-alikes that MariaDB's ``utf8mb4_unicode_ci`` would call equal stay different.
"""

import unicodedata
import uuid

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone


def normalize_email(email: str) -> str:
    """The one form an email is stored and compared in: NFKC, then Unicode casefold.

    NFKC folds full-width letters and compatibility forms (the Kelvin sign becomes K);
    casefold then does Unicode case, so ``lower()``'s gaps cannot make two forms meet.
    """
    return unicodedata.normalize("NFKC", (email or "").strip()).casefold()


# MySQL/MariaDB's default utf8mb4_unicode_ci calls accents, case and some look-alikes equal.
MYSQL_BINARY_COLLATION = "utf8mb4_bin"


class _BinaryCollationMixin:
    """Compare byte for byte on MySQL (identity columns); SQLite already does."""

    def db_parameters(self, connection):
        params = super().db_parameters(connection)
        if connection.vendor == "mysql":
            params["collation"] = MYSQL_BINARY_COLLATION
        return params


class IdentityEmailField(_BinaryCollationMixin, models.EmailField):
    pass


class IdentityCharField(_BinaryCollationMixin, models.CharField):
    pass


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, email):
        return self.get(email=normalize_email(email))

    def create_user(self, email, password=None, **extra):
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=normalize_email(email), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra.setdefault("auth_source", User.AuthSource.LOCAL)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    class AuthSource(models.TextChoices):
        EXTERNAL = "external", "Company sign-in"
        LOCAL = "local", "Local account"

    email = IdentityEmailField(unique=True, max_length=254,
                               db_comment="Stored normalised (NFKC + casefold), compared binary; may change")
    display_name = models.CharField(max_length=255, blank=True, db_comment="userInfo.name, shown in the UI")
    external_id = IdentityCharField(max_length=255, unique=True, null=True, blank=True,
                                    db_comment="userInfo.id from the company API: the identity; NULL for local accounts")
    job_title = models.CharField(max_length=255, blank=True, db_comment="userInfo.jobTitle")
    office_location = models.CharField(max_length=255, blank=True, db_comment="userInfo.officeLocation")
    auth_source = models.CharField(max_length=16, choices=AuthSource.choices, default=AuthSource.EXTERNAL,
                                   db_comment="external: company API; local: operator account")
    is_active = models.BooleanField(default=True, db_comment="False blocks sign-in")
    is_staff = models.BooleanField(default=False, db_comment="May use the Django admin")
    created_at = models.DateTimeField(default=timezone.now, db_comment="First sign-in")
    last_seen_at = models.DateTimeField(null=True, blank=True, db_comment="Last successful sign-in")

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        db_table = "users"
        db_table_comment = "People who use Tool OCR; the directory id (external_id) is the identity"
        ordering = ["email"]

    def save(self, *args, **kwargs):
        self.email = normalize_email(self.email)
        self.external_id = self.external_id or None  # "" would collide under the unique constraint
        super().save(*args, **kwargs)

    def __str__(self):
        return self.email

    @property
    def name(self) -> str:
        """What the UI shows: the display name, falling back to the email."""
        return self.display_name or self.email

    def get_full_name(self):
        return self.name

    def get_short_name(self):
        return self.name


class TokenSession(models.Model):
    """One row per signed-in browser session: the company API's tokens, encrypted.

    Local (operator) sign-ins get a row too, without tokens, so that revocation, idle
    timeout and absolute lifetime apply to every session. Token columns hold Fernet
    ciphertext only (accounts/crypto.py); never show them anywhere (``SECRET_FIELDS``).
    """

    SECRET_FIELDS = ("access_token_enc", "id_token_enc", "refresh_token_enc")

    class EndReason(models.TextChoices):
        REVOKED = "revoked", "Revoked by an administrator"
        REFRESH_REFUSED = "refresh_refused", "The company API refused to renew it"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="token_sessions")
    session_key = models.CharField(max_length=64, unique=True, db_comment="Django session key of the browser")
    access_token_enc = models.TextField(blank=True, db_comment="Fernet-encrypted access token")
    id_token_enc = models.TextField(blank=True, db_comment="Fernet-encrypted ID token")
    refresh_token_enc = models.TextField(blank=True, db_comment="Fernet-encrypted refresh token (may be empty)")
    token_type = models.CharField(max_length=32, blank=True, default="Bearer")
    issued_at = models.DateTimeField(null=True, blank=True, db_comment="When the API issued the access token")
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True, db_comment="When the access token expires")
    created_at = models.DateTimeField(default=timezone.now, db_comment="Sign-in time")
    last_activity_at = models.DateTimeField(default=timezone.now, db_comment="Last request of this session")
    revoked_at = models.DateTimeField(null=True, blank=True, db_index=True, db_comment="Set when revoked; the browser is signed out")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    end_reason = models.CharField(max_length=32, blank=True, choices=EndReason.choices,
                                  db_comment="Why revoked_at is set: revoked (admin) or refresh_refused")
    version = models.PositiveIntegerField(default=0, db_comment="Bumped by each token refresh; a refresh saves only over the version it read")
    refresh_hold_until = models.DateTimeField(null=True, blank=True,
                                              db_comment="No new refresh before this: one is in flight, or the API just failed")
    refreshed_at = models.DateTimeField(null=True, blank=True, db_comment="Last successful token refresh")

    class Meta:
        db_table = "sessions"
        db_table_comment = "Signed-in browser sessions with the company API's tokens, encrypted at rest"
        indexes = [models.Index(fields=["user", "-created_at"], name="sess_user_created_idx")]

    def __str__(self):
        return f"session of {self.user_id} from {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def has_tokens(self) -> bool:
        return bool(self.access_token_enc)

    def __repr__(self):  # ciphertext stays out of logs too
        return f"<TokenSession {self.pk} user={self.user_id} expires_at={self.expires_at} revoked={bool(self.revoked_at)}>"


class LoginFailure(models.Model):
    """One failed sign-in, counted per (account, client IP), per client IP and per account (brute-force limit).

    Keys are HMACs (SECRET_KEY) of the normalised account name or IP: the table never holds
    what people typed, which is sometimes a password in the wrong field.
    """

    class Scope(models.TextChoices):
        ACCOUNT = "account", "Account (anywhere: slows only)"
        ACCOUNT_IP = "acct_ip", "Account from one client IP"
        IP = "ip", "Client IP"

    scope = models.CharField(max_length=8, choices=Scope.choices, db_comment="acct_ip, ip (lock) or account (slows)")
    key_hash = models.CharField(max_length=64, db_comment="HMAC-SHA256 of the account name or IP")
    created_at = models.DateTimeField(default=timezone.now, db_comment="When the attempt failed")

    class Meta:
        db_table = "login_failures"
        db_table_comment = "Failed sign-ins within LOGIN_ATTEMPT_WINDOW, for the brute-force limit"
        indexes = [models.Index(fields=["scope", "key_hash", "created_at"], name="loginfail_key_time_idx"),
                   models.Index(fields=["created_at"], name="loginfail_time_idx")]

    def __str__(self):
        return f"{self.scope} failure at {self.created_at:%Y-%m-%d %H:%M:%S}"


class ApiToken(models.Model):
    """A personal API token for scripts: ``Authorization: Bearer <token>`` on /api/v1/.

    Only the SHA-256 of the token is stored (the token is a 256-bit random secret, so a
    plain hash is enough); the person sees the token once, at creation. ``prefix`` (the
    recognisable start) lets people and operators tell tokens apart without the secret.
    """

    PREFIX = "tocr_"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, db_comment="What the person called it (which script uses it)")
    token_hash = models.CharField(max_length=64, unique=True, db_comment="SHA-256 (hex) of the token; never the token")
    prefix = models.CharField(max_length=16, db_comment="The token's first characters, to recognise it")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True, db_comment="NULL: never expires")
    last_used_at = models.DateTimeField(null=True, blank=True, db_comment="Updated at most once a minute")
    revoked_at = models.DateTimeField(null=True, blank=True, db_index=True, db_comment="Set when revoked; then refused")

    class Meta:
        db_table = "api_tokens"
        db_table_comment = "Personal API tokens for scripts, stored as SHA-256 hashes"
        indexes = [models.Index(fields=["user", "-created_at"], name="apitoken_user_created_idx")]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    def __repr__(self):
        return f"<ApiToken {self.pk} user={self.user_id} prefix={self.prefix} revoked={bool(self.revoked_at)}>"

    def is_expired(self, now=None) -> bool:
        return self.expires_at is not None and (now or timezone.now()) >= self.expires_at
