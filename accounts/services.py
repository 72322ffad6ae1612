"""Writes for users, their token sessions and the brute-force counters."""

import enum
import logging
from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts import crypto, external_auth
from accounts.external_auth import AuthResult, UserInfo
from accounts.models import LoginFailure, TokenSession, User, normalize_email
from accounts.selectors import login_keys, token_sessions_due_for_refresh

log = logging.getLogger("tool_ocr.auth")

# After the API failed a refresh, wait this long before the next try for that session.
REFRESH_PAUSE_AFTER_FAILURE = timedelta(seconds=30)


def user_upsert_from_external(info: UserInfo, *, request=None) -> User:
    """The user bound to the directory person ``info.external_id``, created or updated.

    The directory's id is the key; the email is an attribute that follows the directory.
    A user without an id yet (created before ids were kept) is bound at a sign-in whose
    normalised email matches theirs exactly. Refused with ``IdentityConflict`` (and a
    'denied' audit row) when the email belongs to a user bound to another id, or to a
    local account: a look-alike or reused address never opens someone else's account.
    """
    try:
        with transaction.atomic():
            return _user_upsert(info)
    except IntegrityError:
        # Two first sign-ins of one person at once: the other one created the row.
        with transaction.atomic():
            return _user_upsert(info)
    except _Conflict as conflict:
        _audit_identity_conflict(info, conflict, request)
        raise external_auth.IdentityConflict() from None


class _Conflict(Exception):
    def __init__(self, reason: str, existing: User):
        super().__init__(reason)
        self.reason, self.existing = reason, existing


def _user_upsert(info: UserInfo) -> User:
    email = normalize_email(info.email)
    user = User.objects.select_for_update().filter(external_id=info.external_id).first()
    holder = User.objects.select_for_update().filter(email=email).first()  # binary comparison (models)
    if user is None:
        if holder is not None:
            if holder.auth_source == User.AuthSource.LOCAL:
                raise _Conflict("local_account", holder)
            if holder.external_id:
                raise _Conflict("email_bound_to_another_directory_id", holder)
            user = holder  # created before ids were kept: bound now, the email matching exactly
        else:
            user = User(email=email, external_id=info.external_id, auth_source=User.AuthSource.EXTERNAL)
    elif holder is not None and holder.pk != user.pk:
        raise _Conflict("new_email_taken", holder)
    if user.auth_source == User.AuthSource.LOCAL:  # never: local accounts carry no directory id
        raise _Conflict("local_account", user)
    if user.email != email:
        log.info("directory email changed user_id=%s", user.pk)
    user.email = email
    user.external_id = info.external_id
    user.display_name = info.name
    user.job_title = info.job_title
    user.office_location = info.office_location
    user.last_seen_at = timezone.now()
    if not user.password:  # "" counts as usable to Django and would cost a hash per sign-in
        user.set_unusable_password()
    user.save()
    return user


def _audit_identity_conflict(info: UserInfo, conflict: _Conflict, request) -> None:
    from tasks.models import AuditLog
    from tasks.services import audit

    log.warning("sign-in refused: identity conflict reason=%s existing_user_id=%s",
                conflict.reason, conflict.existing.pk)
    audit(request=request, action="auth.login", obj=conflict.existing, outcome=AuditLog.Outcome.DENIED,
          reason="identity_conflict", conflict=conflict.reason, directory_id=info.external_id[:255],
          directory_email=info.email[:254])


# --- Token sessions -------------------------------------------------------------
def _audit(**kwargs):
    from tasks.services import audit  # the one audit writer (tasks.models.AuditLog)

    return audit(**kwargs)


@sensitive_variables()
def token_session_create(*, user: User, session_key: str, result: AuthResult | None = None,
                         ip: str | None = None, user_agent: str = "", request=None) -> TokenSession:
    """Start the row of a fresh sign-in: the tokens encrypted (none for a local sign-in).

    With ``request`` (a real sign-in) the ``auth.login`` audit row is written in the same transaction.
    """
    t = result.tokens if result is not None else None
    now = timezone.now()
    values = dict(
        user=user,
        access_token_enc=crypto.encrypt(t.access_token) if t else "",
        id_token_enc=crypto.encrypt(t.id_token) if t else "",
        refresh_token_enc=crypto.encrypt(t.refresh_token) if t else "",
        token_type=t.token_type if t else "",
        issued_at=t.issued_at if t else None,
        expires_at=t.expires_at if t else None,
        created_at=now,
        last_activity_at=now,
        ip_address=ip or None,
        user_agent=(user_agent or "")[:512],
    )
    with transaction.atomic():
        row, _ = TokenSession.objects.update_or_create(session_key=session_key, defaults=values)
        if request is not None:
            _audit(request=request, user=user, action="auth.login", obj=row,
                   source="external" if t else "local", backend=getattr(user, "backend", ""))
    return row


def token_session_end(*, session_key: str, request=None, user=None) -> int:
    """Sign-out: delete the stored tokens of a browser session (and write ``auth.logout`` in the same transaction).

    A revoked row stays (its tokens are already wiped) as a record for the operators
    until cleanup_sessions removes it. The contract has no revoke call, so ending the
    session here is deleting what we hold.
    """
    with transaction.atomic():
        deleted, _ = TokenSession.objects.filter(session_key=session_key, revoked_at__isnull=True).delete()
        if request is not None and user is not None:
            _audit(request=request, user=user, action="auth.logout", obj=user)
    return deleted


def token_session_revoke(*, session: TokenSession, reason: str = TokenSession.EndReason.REVOKED,
                         request=None) -> bool:
    """Revoke a session (admin action): wipe its tokens; the browser is signed out at its next request.

    Returns False when it was already revoked. With ``request`` (an operator's action) the
    ``admin.session.revoke`` audit row is written in the same transaction.
    """
    with transaction.atomic():
        updated = TokenSession.objects.filter(pk=session.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), end_reason=reason,
            access_token_enc="", id_token_enc="", refresh_token_enc="", refresh_hold_until=None)
        if updated and request is not None:
            _audit(request=request, action="admin.session.revoke", obj=session, target=session.user.email,
                   reason=str(reason))
    if updated:
        log.info("token session revoked session_id=%s user_id=%s reason=%s", session.pk, session.user_id, reason)
    return bool(updated)


def token_session_touch(*, session: TokenSession, now=None) -> None:
    """Record activity, at most once a minute per session (or a tenth of the idle timeout)."""
    now = now or timezone.now()
    every = timedelta(seconds=min(60, settings.SESSION_IDLE_TIMEOUT / 10))
    if session.last_activity_at and now - session.last_activity_at < every:
        return
    TokenSession.objects.filter(pk=session.pk, last_activity_at__lt=now - every).update(last_activity_at=now)
    session.last_activity_at = now


class RefreshOutcome(enum.StrEnum):
    REFRESHED = "refreshed"
    NOT_DUE = "not_due"
    BUSY = "busy"                  # another request holds the refresh, or a pause after a failure
    REFUSED = "refused"            # the API will not renew: the session is ended
    UNAVAILABLE = "unavailable"    # API down, slow, rate-limited or unreadable: try later
    UNSUPPORTED = "unsupported"    # no refresh endpoint: the session ends at expiry
    NO_REFRESH_TOKEN = "no_refresh_token"


def token_needs_refresh(session: TokenSession, now=None) -> bool:
    now = now or timezone.now()
    return (session.has_tokens and session.revoked_at is None and session.expires_at is not None
            and now >= session.expires_at - timedelta(seconds=settings.TOKEN_REFRESH_BUFFER))


@sensitive_variables()
def token_session_refresh(*, session: TokenSession, now=None) -> RefreshOutcome:
    """Renew the tokens of a session that is within TOKEN_REFRESH_BUFFER of expiry.

    Atomic without holding a database lock during the HTTP call: a conditional UPDATE
    claims the row (``refresh_hold_until``) for at most the client's total deadline;
    the new tokens are saved only over the version that was read, so two requests (or
    the middleware and the periodic job) never both spend the refresh token, and a
    late writer can never overwrite newer tokens. ``session`` is updated in place.
    """
    now = now or timezone.now()
    if not token_needs_refresh(session, now):
        return RefreshOutcome.NOT_DUE
    refresh = crypto.decrypt(session.refresh_token_enc)
    if not refresh:
        return RefreshOutcome.NO_REFRESH_TOKEN
    hold = now + timedelta(seconds=settings.EXTERNAL_AUTH_TOTAL_TIMEOUT + 5)
    claimed = (TokenSession.objects
               .filter(pk=session.pk, version=session.version, revoked_at__isnull=True)
               .filter(Q(refresh_hold_until__isnull=True) | Q(refresh_hold_until__lte=now))
               .update(refresh_hold_until=hold))
    if not claimed:
        return RefreshOutcome.BUSY
    try:
        result = external_auth.refresh_token(refresh)
    except external_auth.RefreshRefused:
        token_session_revoke(session=session, reason=TokenSession.EndReason.REFRESH_REFUSED)
        session.revoked_at, session.end_reason = timezone.now(), TokenSession.EndReason.REFRESH_REFUSED
        return RefreshOutcome.REFUSED
    except external_auth.RefreshUnsupported:
        # No endpoint: asking again is pointless; the session ends at expiry regardless.
        _release_hold(session, until=session.created_at + timedelta(seconds=settings.SESSION_ABSOLUTE_LIFETIME))
        return RefreshOutcome.UNSUPPORTED
    except external_auth.ExternalAuthError as exc:
        _release_hold(session, until=timezone.now() + REFRESH_PAUSE_AFTER_FAILURE)
        log.info("token refresh postponed session_id=%s reason=%s", session.pk, exc.code)
        return RefreshOutcome.UNAVAILABLE
    bound = session.user.external_id
    same_person = (result.user.external_id == bound if bound
                   else normalize_email(result.user.email) == session.user.email)  # from before ids: bound below
    if not same_person:
        log.warning("token refresh returned another identity session_id=%s", session.pk)
        token_session_revoke(session=session, reason=TokenSession.EndReason.REFRESH_REFUSED)
        session.revoked_at, session.end_reason = timezone.now(), TokenSession.EndReason.REFRESH_REFUSED
        return RefreshOutcome.REFUSED
    return _save_refreshed(session, result, refresh)


@sensitive_variables()
def _save_refreshed(session: TokenSession, result: AuthResult, old_refresh: str) -> RefreshOutcome:
    t = result.tokens
    values = dict(
        access_token_enc=crypto.encrypt(t.access_token),
        id_token_enc=crypto.encrypt(t.id_token),
        # Keep the old refresh token when the API does not rotate it.
        refresh_token_enc=crypto.encrypt(t.refresh_token or old_refresh),
        token_type=t.token_type,
        issued_at=t.issued_at,
        expires_at=t.expires_at,
        refreshed_at=timezone.now(),
        refresh_hold_until=None,
    )
    saved = (TokenSession.objects.filter(pk=session.pk, version=session.version, revoked_at__isnull=True)
             .update(version=F("version") + 1, **values))
    if not saved:
        log.warning("token refresh result discarded (session changed meanwhile) session_id=%s", session.pk)
        return RefreshOutcome.BUSY
    for name, value in values.items():
        setattr(session, name, value)
    session.version += 1
    try:
        user_upsert_from_external(result.user)  # the name, office or email may have changed
    except external_auth.IdentityConflict:
        pass  # the new email is another account's: keep the old attributes (audited)
    log.info("token refreshed session_id=%s expires_at=%s", session.pk, t.expires_at)
    return RefreshOutcome.REFRESHED


def _release_hold(session: TokenSession, until) -> None:
    TokenSession.objects.filter(pk=session.pk, version=session.version).update(refresh_hold_until=until)
    session.refresh_hold_until = until


def token_sessions_refresh_due(*, now=None) -> Counter:
    """The periodic job: refresh every session near expiry; counts per outcome."""
    counts = Counter()
    for session in token_sessions_due_for_refresh(now=now).select_related("user").iterator():
        counts[token_session_refresh(session=session, now=now)] += 1
    return counts


def token_sessions_rotate_keys() -> dict:
    """Re-encrypt every stored token with the newest TOKEN_ENCRYPTION_KEYS key.

    Rows no configured key can read are counted and left alone (restore the old key
    and run again, or let those sessions end).
    """
    rotated = unreadable = 0
    for pk in TokenSession.objects.values_list("pk", flat=True).iterator():
        with transaction.atomic():
            row = TokenSession.objects.select_for_update().filter(pk=pk).first()
            if row is None or not any(getattr(row, f) for f in TokenSession.SECRET_FIELDS):
                continue
            try:
                values = {f: crypto.rotate(getattr(row, f)) for f in TokenSession.SECRET_FIELDS}
            except crypto.UnreadableToken:
                unreadable += 1
                continue
            TokenSession.objects.filter(pk=pk).update(**values)
            rotated += 1
    return {"rotated": rotated, "unreadable": unreadable}


# --- Brute-force limit ----------------------------------------------------------
def login_failure_record(*, username: str, ip: str | None) -> None:
    """Count one failed sign-in for the typed account name and for the IP; drop old rows."""
    now = timezone.now()
    LoginFailure.objects.bulk_create([LoginFailure(scope=scope, key_hash=key, created_at=now)
                                      for scope, key, _limit in login_keys(username=username, ip=ip)])
    LoginFailure.objects.filter(created_at__lt=now - timedelta(seconds=settings.LOGIN_ATTEMPT_WINDOW)).delete()


def sign_in_failed(*, request, username: str, reason: str, counted: bool, refused: bool = False) -> None:
    """A failed sign-in: counted towards the limit (wrong credentials) and audited, in one transaction.

    The audit row names the account only when it exists (what people type in the name field
    is sometimes their password) and never holds the password. ``refused``: stopped by the
    limit before any check (outcome "denied"), else "failed".
    """
    from core.client_ip import client_ip
    from tasks.models import AuditLog

    account = User.objects.filter(email=normalize_email(username)).first() if "@" in (username or "") else None
    with transaction.atomic():
        if counted:
            login_failure_record(username=username, ip=client_ip(request))
        _audit(request=request, user=account, action="auth.login",
               outcome=AuditLog.Outcome.DENIED if refused else AuditLog.Outcome.FAILED,
               reason=reason, account="known" if account else "unknown")


def login_failures_clear(*, username: str, ip: str | None = None) -> None:
    """A successful sign-in forgives the account's failures, here and account-wide (not the IP's)."""
    keys = {scope: key for scope, key, _limit in login_keys(username=username, ip=ip)}
    for scope in (LoginFailure.Scope.ACCOUNT, LoginFailure.Scope.ACCOUNT_IP):
        LoginFailure.objects.filter(scope=scope, key_hash=keys[scope]).delete()


# --- Personal API tokens (issue 14) -----------------------------------------------
API_TOKEN_NAME_MAX = 100
API_TOKEN_MAX_DAYS = 3650
API_TOKENS_PER_USER = 50  # live (not revoked) tokens; an abuse cap, not a quota people meet
API_TOKEN_TOUCH_SECONDS = 60  # last_used_at is written at most this often per token


def api_token_hash(plain: str) -> str:
    import hashlib

    return hashlib.sha256(plain.encode("utf-8", "surrogatepass")).hexdigest()


@sensitive_variables("plain")
def api_token_create(*, user: User, name: str, expires_in_days: int | None = None, request=None):
    """A new token for ``user``: returns (row, the plain token), the only time the token exists in clear.

    Only its SHA-256 is stored. The ``token.create`` audit row is written in the same transaction.
    """
    import secrets

    from accounts.models import ApiToken
    from tasks.errors import ServiceError

    name = (name or "").strip()
    if not name:
        raise ServiceError("Give the token a name, e.g. the script that will use it.", code="invalid_input",
                           details={"name": "Give the token a name."})
    if len(name) > API_TOKEN_NAME_MAX:
        raise ServiceError(f"The name is too long: at most {API_TOKEN_NAME_MAX} characters.", code="invalid_input",
                           details={"name": f"At most {API_TOKEN_NAME_MAX} characters."})
    if expires_in_days is not None and (isinstance(expires_in_days, bool) or not isinstance(expires_in_days, int)
                                        or not 1 <= expires_in_days <= API_TOKEN_MAX_DAYS):
        raise ServiceError(f"The expiry must be a whole number of days from 1 to {API_TOKEN_MAX_DAYS}, "
                           "or left out for a token that does not expire.", code="invalid_input",
                           details={"expires_in_days": f"A whole number from 1 to {API_TOKEN_MAX_DAYS}."})
    plain = ApiToken.PREFIX + secrets.token_urlsafe(32)  # 256 random bits
    now = timezone.now()
    with transaction.atomic():
        live = ApiToken.objects.select_for_update().filter(user=user, revoked_at__isnull=True)
        if len(list(live.values_list("pk", flat=True))) >= API_TOKENS_PER_USER:
            raise ServiceError(f"You have {API_TOKENS_PER_USER} tokens, the most one person may have: "
                               "revoke one you no longer use first.", code="limit_reached", status=429)
        row = ApiToken.objects.create(
            user=user, name=name, token_hash=api_token_hash(plain), prefix=plain[:len(ApiToken.PREFIX) + 6],
            created_at=now, expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None)
        _audit(request=request, user=user, action="token.create", obj=row, name=name,
               prefix=row.prefix, expires_at=row.expires_at.isoformat() if row.expires_at else None)
    log.info("api token created token_id=%s user_id=%s", row.pk, user.pk)
    return row, plain


def api_token_revoke(*, token, request=None, by_operator: bool = False) -> bool:
    """Revoke a token (its owner on /account/tokens/ or the API, or an operator in the admin).

    False when it was already revoked. The ``token.revoke`` audit row (with who did it) is
    written in the same transaction.
    """
    from accounts.models import ApiToken

    with transaction.atomic():
        updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if updated:
            _audit(request=request, user=None if by_operator else token.user, action="token.revoke", obj=token,
                   name=token.name, prefix=token.prefix, owner=token.user.email,
                   by="operator" if by_operator else "owner")
    if updated:
        log.info("api token revoked token_id=%s user_id=%s by=%s", token.pk, token.user_id,
                 "operator" if by_operator else "owner")
    return bool(updated)


@sensitive_variables("plain")
def api_token_authenticate(plain: str, *, now=None):
    """(token row, None) for a live token, else (None, why) -- a message for the person.

    Records the use, at most once every API_TOKEN_TOUCH_SECONDS (one cheap UPDATE, not one a request).
    """
    from accounts.models import ApiToken

    now = now or timezone.now()
    if not plain or not plain.startswith(ApiToken.PREFIX) or len(plain) > 200:
        return None, "This API token is not valid."
    token = ApiToken.objects.select_related("user").filter(token_hash=api_token_hash(plain)).first()
    if token is None:
        return None, "This API token is not valid."
    if token.revoked_at is not None:
        return None, "This API token was revoked."
    if token.is_expired(now):
        return None, "This API token has expired."
    if not token.user.is_active:
        return None, "The account of this API token is deactivated."
    if token.last_used_at is None or now - token.last_used_at >= timedelta(seconds=API_TOKEN_TOUCH_SECONDS):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token, None
