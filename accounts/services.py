"""Writes for users and their token sessions."""

from django.db import transaction
from django.utils import timezone

from accounts import crypto
from accounts.external_auth import AuthResult, UserInfo
from accounts.models import TokenSession, User


@transaction.atomic
def user_upsert_from_external(info: UserInfo) -> User:
    """Create or update the user whose identity is ``info.email`` (case-insensitive)."""
    user, _created = User.objects.select_for_update().get_or_create(
        email=info.email.lower(), defaults={"auth_source": User.AuthSource.EXTERNAL}
    )
    user.display_name = info.name
    user.external_id = info.external_id
    user.job_title = info.job_title
    user.office_location = info.office_location
    user.last_seen_at = timezone.now()
    if not user.has_usable_password() and user.password == "":
        user.set_unusable_password()
    user.save()
    return user


def token_session_create(*, user: User, session_key: str, result: AuthResult, ip: str | None, user_agent: str) -> TokenSession:
    """Store the tokens of a fresh sign-in, encrypted, for this browser session."""
    t = result.tokens
    return TokenSession.objects.create(
        user=user,
        session_key=session_key,
        access_token_enc=crypto.encrypt(t.access_token),
        id_token_enc=crypto.encrypt(t.id_token),
        refresh_token_enc=crypto.encrypt(t.refresh_token),
        token_type=t.token_type,
        issued_at=t.issued_at,
        expires_at=t.expires_at,
        ip_address=ip,
        user_agent=(user_agent or "")[:512],
    )


def token_session_end(*, session_key: str) -> int:
    """Delete the stored tokens of a browser session (logout)."""
    deleted, _ = TokenSession.objects.filter(session_key=session_key).delete()
    return deleted
