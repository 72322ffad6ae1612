"""Operator writes on accounts: revoke sessions, deactivate people, clear dead sessions.

Used by the admin and by cleanup_sessions / purge_user. Revocation goes through
accounts.services.token_session_revoke, which owns what a revoked session means at the next request.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from accounts.models import TokenSession
from accounts.services import token_session_revoke
from core.audit import Actor, audit
from core.models import AuditAction

log = logging.getLogger("tool_ocr.maintenance")



def _db_sessions() -> bool:
    """Whether browser sessions live in Session's table: Django's db and cached_db stores, or ours built on them.

    Asked of the engine's class, not its name, so a store derived from the database one
    (accounts.session_store) still has its rows deleted when a session is revoked or purged.
    """
    return issubclass(import_module(settings.SESSION_ENGINE).SessionStore, DatabaseSessionStore)


def session_revoke(*, session: TokenSession, actor: Actor | None = None) -> bool:
    """Revoke one token session; False when it was already revoked.

    With ``actor`` (an operator in the admin) the audit row is written in the revocation's transaction.
    """
    if session.revoked_at is not None or not token_session_revoke(session=session, actor=actor):
        return False
    log.info("token session revoked", extra={"user_id": session.user_id, "session_id": str(session.pk)})
    return True


def user_deactivate(*, user, actor: Actor | None = None) -> int:
    """Block sign-in and end every live session of the person; returns the sessions revoked.

    One transaction: the flag, each revocation and (with ``actor``, an operator) their audit rows.
    """
    revoked = 0
    with transaction.atomic():
        type(user).objects.filter(pk=user.pk).update(is_active=False)
        for session in TokenSession.objects.filter(user=user, revoked_at__isnull=True).select_related("user"):
            revoked += session_revoke(session=session, actor=actor)
        if actor is not None:
            audit(actor=actor, action=AuditAction.ADMIN_USER_DEACTIVATE, obj=user, target=user.email,
                  sessions_revoked=revoked)
    log.info("user deactivated", extra={"user_id": user.pk, "sessions_revoked": revoked})
    return revoked


def user_activate(*, user, actor: Actor | None = None) -> None:
    with transaction.atomic():
        type(user).objects.filter(pk=user.pk).update(is_active=True)
        if actor is not None:
            audit(actor=actor, action=AuditAction.ADMIN_USER_ACTIVATE, obj=user, target=user.email)
    log.info("user activated", extra={"user_id": user.pk})


def user_sessions_delete(*, user, dry_run: bool = False) -> int:
    """Delete all token sessions of a person and their browsers' Django sessions."""
    sessions = TokenSession.objects.filter(user=user)
    if dry_run:
        return sessions.count()
    keys = list(sessions.values_list("session_key", flat=True))
    with transaction.atomic():
        deleted = sessions.delete()[0]
        if keys and _db_sessions():
            Session.objects.filter(session_key__in=keys).delete()
    return deleted


@dataclass
class SessionCleanup:
    token_sessions: int = 0
    django_sessions: int = 0


def dead_token_sessions(*, grace: timedelta, now=None):
    """Token sessions nobody can use any more: revoked, or expired, longer than ``grace`` ago.

    The grace keeps a just-revoked row around so the sign-in code can still tell that
    browser why it was signed out.
    """
    from django.db.models import Q

    limit = (now or timezone.now()) - grace
    return TokenSession.objects.filter(Q(revoked_at__lt=limit) | Q(expires_at__lt=limit))


def orphan_token_sessions(*, now=None):
    """Token sessions whose browser session is gone or expired (database session engine only)."""
    if not _db_sessions():
        return TokenSession.objects.none()
    live = Session.objects.filter(expire_date__gte=now or timezone.now()).values("session_key")
    return TokenSession.objects.exclude(session_key__in=live)


def sessions_cleanup(*, grace: timedelta, dry_run: bool = False, batch_size: int = 1000, now=None) -> SessionCleanup:
    now = now or timezone.now()
    result = SessionCleanup()
    dead = dead_token_sessions(grace=grace, now=now)
    orphans = orphan_token_sessions(now=now)
    expired_browser = Session.objects.filter(expire_date__lt=now) if _db_sessions() else Session.objects.none()
    if dry_run:
        result.token_sessions = (dead | orphans).distinct().count()
        result.django_sessions = expired_browser.count()
        return result
    for queryset in (dead, orphans):
        while True:
            ids = list(queryset.order_by().values_list("pk", flat=True)[:batch_size])
            if not ids:
                break
            result.token_sessions += TokenSession.objects.filter(pk__in=ids).delete()[0]
    while True:
        keys = list(expired_browser.order_by().values_list("session_key", flat=True)[:batch_size])
        if not keys:
            break
        result.django_sessions += Session.objects.filter(session_key__in=keys).delete()[0]
    log.info("sessions cleaned", extra={"session_rows": result.token_sessions,
                                        "django_sessions": result.django_sessions})
    return result
