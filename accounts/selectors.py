"""Reads for sign-in: token sessions and the brute-force counters."""

import hashlib
import hmac
import math
from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import LoginFailure, TokenSession, normalize_email


def token_session_get(*, user, session_key: str) -> TokenSession | None:
    """The row of this browser session, if it belongs to this user."""
    if not session_key or not getattr(user, "is_authenticated", False):
        return None
    return TokenSession.objects.filter(user=user, session_key=session_key).first()


def token_sessions_due_for_refresh(*, now=None) -> QuerySet:
    """Live sessions whose access token expires within TOKEN_REFRESH_BUFFER (the periodic job).

    A token expired longer ago than SESSION_IDLE_TIMEOUT belongs to a dead session (any
    request since expiry would have renewed or ended it), so it is not worth an API call.
    """
    now = now or timezone.now()
    horizon = now + timedelta(seconds=settings.TOKEN_REFRESH_BUFFER)
    oldest = now - timedelta(seconds=settings.SESSION_IDLE_TIMEOUT)
    return (TokenSession.objects
            .filter(revoked_at__isnull=True, expires_at__gt=oldest, expires_at__lte=horizon)
            .exclude(refresh_token_enc="")
            .filter(Q(refresh_hold_until__isnull=True) | Q(refresh_hold_until__lte=now))
            .order_by("expires_at"))


# --- Brute-force limit ----------------------------------------------------------
def login_key_hash(value: str) -> str:
    """HMAC of a normalised account name or IP: comparable, but not what was typed."""
    return hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def login_keys(*, username: str, ip: str | None) -> list[tuple[str, str, int]]:
    """(scope, key hash, limit) for each counter a failed sign-in attempt adds to.

    Locks are per (account, client address) and per address, so a stranger elsewhere
    cannot lock an account's owner out; the account-wide count only slows (see below).
    """
    account = normalize_email(username)
    keys = [(LoginFailure.Scope.ACCOUNT_IP, login_key_hash(f"account_ip:{account}|{ip or 'unknown'}"),
             settings.LOGIN_MAX_ATTEMPTS_PER_ACCOUNT),
            (LoginFailure.Scope.ACCOUNT, login_key_hash("account:" + account), settings.LOGIN_ACCOUNT_SLOWDOWN_AFTER)]
    if ip:
        keys.append((LoginFailure.Scope.IP, login_key_hash("ip:" + ip), settings.LOGIN_MAX_ATTEMPTS_PER_IP))
    return keys


def account_delay_seconds(failures: int) -> float:
    """The pause the account-wide count asks for after its latest failure: 1, 2, 4 … s, capped."""
    over = failures - settings.LOGIN_ACCOUNT_SLOWDOWN_AFTER
    if over < 0:
        return 0.0
    return float(min(settings.LOGIN_ACCOUNT_DELAY_MAX, 2 ** min(over, 30)))


def login_wait(*, username: str, ip: str | None, now=None) -> tuple[int, str]:
    """(seconds until this account name may be tried from this address, which counter); (0, "") now.

    Counts failures of the typed name whether or not such an account exists, so the
    answer says nothing about which accounts exist. The (account, address) and address
    counters lock until enough failures leave LOGIN_ATTEMPT_WINDOW; the account-wide one
    only spaces attempts out by a growing delay (at most LOGIN_ACCOUNT_DELAY_MAX).
    """
    now = now or timezone.now()
    window = timedelta(seconds=settings.LOGIN_ATTEMPT_WINDOW)
    wait, why = 0.0, ""
    for scope, key, limit in login_keys(username=username, ip=ip):
        times = list(LoginFailure.objects.filter(scope=scope, key_hash=key, created_at__gt=now - window)
                     .order_by("created_at").values_list("created_at", flat=True))
        if scope == LoginFailure.Scope.ACCOUNT:
            delay = account_delay_seconds(len(times))
            this = (times[-1] + timedelta(seconds=delay) - now).total_seconds() if delay and times else 0.0
        elif len(times) >= limit:
            # Allowed again once enough of the oldest failures have left the window.
            this = (times[len(times) - limit] + window - now).total_seconds()
        else:
            this = 0.0
        if this > wait:
            wait, why = this, scope
    return math.ceil(wait), why


def login_wait_seconds(*, username: str, ip: str | None, now=None) -> int:
    return login_wait(username=username, ip=ip, now=now)[0]


def api_token_list(*, user) -> QuerySet:
    """The user's tokens that still exist for them (not revoked), newest first; expired ones are listed, marked."""
    from accounts.models import ApiToken

    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).order_by("-created_at")


def api_token_get(*, user, token_id):
    """One of the user's live tokens, or None (another user's token is exactly like an unknown id)."""
    from accounts.models import ApiToken

    return ApiToken.objects.filter(user=user, pk=token_id, revoked_at__isnull=True).first()
