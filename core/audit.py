"""The audit trail's one writer: who did what to which object, from where, and what came of it.

A write service takes the ``Actor`` and calls ``audit`` inside its own transaction, so the row
commits with the change or not at all. Actions are ``AuditAction`` values only.
"""

import dataclasses
import logging
from datetime import timedelta

from django.utils import timezone

from core.client_ip import client_ip
from core.models import AuditAction, AuditLog

log = logging.getLogger("tool_ocr.tasks")


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who acts: a person (and from which address and browser), or the system (``SYSTEM``, no user).

    ``via`` says where, when not on the object's own page: ``api``, ``history``, ``zip``, or
    ``admin`` (an operator in Django admin, whose task actions are recorded as ``admin.task.*``).
    """

    user: object = None
    ip: str | None = None
    user_agent: str = ""
    via: str = ""

    @classmethod
    def of(cls, request, *, via: str = "", user=None) -> "Actor":
        """The request's signed-in user (or ``user``), address and browser."""
        if user is None:
            user = getattr(request, "user", None)
            user = user if user is not None and user.is_authenticated else None
        return cls(user=user, ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
                   via=via)

    @property
    def is_operator(self) -> bool:
        return self.via == "admin"


SYSTEM = Actor()


def audit(*, actor: Actor, action: AuditAction, obj=None, outcome: str = AuditLog.Outcome.ALLOWED,
          object_type: str | None = None, object_id: str | None = None, user_email: str | None = None,
          **details) -> AuditLog:
    """Write one audit row. ``details`` gain ``via`` (unless the admin: its actions have their own names).

    ``object_type``/``object_id`` name an object that is gone (a purged user); ``user_email`` files the
    row under another person (the one purged). An action that is not an AuditAction raises ValueError.
    """
    action = AuditAction(action)
    if actor.via and not actor.is_operator:
        details.setdefault("via", actor.via)
    return AuditLog.objects.create(
        user=actor.user, user_email=(getattr(actor.user, "email", "") or "") if user_email is None else user_email,
        action=action, outcome=outcome,
        object_type=object_type if object_type is not None else (type(obj).__name__.lower() if obj is not None else ""),
        object_id=object_id if object_id is not None else str(getattr(obj, "pk", "") or ""),
        ip_address=actor.ip, user_agent=actor.user_agent, details=details,
    )


# A person's refused attempts (another user's task or file) are audited, but at most this many rows a
# minute per user: past it they are only logged, so nobody can fill the audit table by repeating one.
DENIED_AUDIT_PER_MINUTE = 30


def audit_denied(*, actor: Actor, action: AuditAction, obj=None, **details) -> AuditLog | None:
    """A 'denied' audit row for the actor, rate-limited per user (None when over the limit)."""
    if actor.user is not None:
        recent = AuditLog.objects.filter(user=actor.user, outcome=AuditLog.Outcome.DENIED,
                                         created_at__gte=timezone.now() - timedelta(minutes=1))[:DENIED_AUDIT_PER_MINUTE]
        if recent.count() >= DENIED_AUDIT_PER_MINUTE:
            log.warning("denied attempt not audited: over %d a minute action=%s user_id=%s",
                        DENIED_AUDIT_PER_MINUTE, action, actor.user.pk)
            return None
    return audit(actor=actor, action=action, obj=obj, outcome=AuditLog.Outcome.DENIED, **details)


def with_user(actor: Actor, user) -> Actor:
    """The same address and browser, acting as ``user`` (a sign-in, before request.user is set)."""
    return dataclasses.replace(actor, user=user)
