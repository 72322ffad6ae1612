"""Django's database sessions, read together with the browser's TokenSession row and its user: one query, not three.

Every signed-in request loads its session, then authentication reads the signed-in user and the
session guard (accounts.web.middleware) the TokenSession row of the same key. Here one join reads all
three; the guard takes the row from ``request.session.token_session`` and the company backend the user
from ``user_read_with_session`` (both read in this request, so as fresh as their own queries would be).
Plain SQL because it runs on every request: the ORM spent more CPU composing these queries than the
database spent answering them, and on MariaDB each round trip costs the web process more than the read.
A session without a row (not signed in) reads as before.
"""

import contextvars
import json

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.core import signing
from django.core.signals import request_finished, setting_changed
from django.db import connections, router
from django.utils import timezone

from accounts.models import TokenSession, User
from core import raw_sql

_TOKEN_PK = TokenSession._meta.concrete_fields.index(TokenSession._meta.pk)
_TOKEN_WIDTH = len(TokenSession._meta.concrete_fields)
_USER_PK = User._meta.concrete_fields.index(User._meta.pk)

# The user of the TokenSession row this thread's request read with its session, until the backend takes it.
# Set (or emptied) by every session read, taken at most once: authentication asks for the user right after
# reading the session, in the same request; a request without a session never asks.
_USER_READ: contextvars.ContextVar = contextvars.ContextVar("user_read_with_session", default=None)


def _forget_user_read(**kwargs):
    """A user read with a session but never asked for (a local operator's session: Django's ModelBackend reads
    its own) is not kept in the thread past its request."""
    _USER_READ.set(None)


request_finished.connect(_forget_user_read)


def user_read_with_session(user_id):
    """The user ``user_id`` as read with this request's session (then forgotten), or None: read it yourself."""
    user = _USER_READ.get()
    if user is None:
        return None
    _USER_READ.set(None)
    return user if str(user.pk) == str(user_id) else None


_JOIN_SQL: dict = {}  # (session model, vendor) -> the join's SELECT, written once per process


def _join_sql(session_model, connection) -> str:
    key = (session_model, connection.vendor)
    sql = _JOIN_SQL.get(key)
    if sql is None:
        sql = _JOIN_SQL[key] = _compose_join(session_model, connection)
    return sql


def _compose_join(session_model, connection) -> str:
    qn = connection.ops.quote_name
    token, user = TokenSession._meta, User._meta
    columns = ", ".join([f"t.{qn(field.column)}" for field in token.concrete_fields]
                        + [f"u.{qn(field.column)}" for field in user.concrete_fields])
    return (f"SELECT {columns}, s.{qn('session_data')} FROM {qn(session_model._meta.db_table)} s "
            f"LEFT JOIN {qn(token.db_table)} t ON t.{qn('session_key')} = s.{qn('session_key')} "
            f"LEFT JOIN {qn(user.db_table)} u ON u.{qn(user.pk.column)} = t.{qn(token.get_field('user').column)} "
            f"WHERE s.{qn('session_key')} = %s AND s.{qn('expire_date')} > %s")


# session_data -> its decoded content as JSON text. Checking the signature (an HMAC whose key is itself a
# hash) and decoding was a sixth of what reading the session cost, for the same text on every request of
# a browser. Kept only for data that verified; the whole text is the key, so a changed session is a miss.
_DECODED: dict = {}
MAX_DECODED = 4096  # a few thousand browsers' sessions, about 220 characters each
# Longer texts, or texts whose content is longer as JSON (signing compresses it), are decoded every time, not
# kept: the page after an upload reads, once, a session that names the files (up to 100 names, tens of KB),
# and 4096 of those would hold hundreds of MB per process. So the cache holds at most
# MAX_DECODED * 2 * MAX_DECODED_TEXT characters.
MAX_DECODED_TEXT = 1024


def _forget_decoded(*, setting, **kwargs):
    if setting in ("SECRET_KEY", "SECRET_KEY_FALLBACKS", "SESSION_SERIALIZER"):
        _DECODED.clear()


setting_changed.connect(_forget_decoded)


class SessionStore(DatabaseSessionStore):
    token_session: TokenSession | None = None  # the row read with the session, if there is one

    def decode(self, session_data):
        """Django's decode; a text decoded before in this process is answered from _DECODED (a fresh dict)."""
        known = _DECODED.get(session_data)
        if known is not None:
            return json.loads(known)
        decoded = super().decode(session_data)
        if decoded and self.serializer is signing.JSONSerializer and len(session_data) <= MAX_DECODED_TEXT:
            content = json.dumps(decoded)  # only what verified, JSON round-trips and is small both ways
            if len(content) <= MAX_DECODED_TEXT:
                if len(_DECODED) >= MAX_DECODED:
                    _DECODED.clear()
                _DECODED[session_data] = content
        return decoded

    def _get_session_from_db(self):
        _USER_READ.set(None)
        if not self.session_key:
            return super()._get_session_from_db()
        db = router.db_for_read(self.model, instance=None)
        connection = connections[db]
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(_join_sql(self.model, connection), [self.session_key, now])
            row = cursor.fetchone()
        if row is None:  # no such session, or it expired
            self._session_key = None
            return None
        token_columns, user_columns, session_data = row[:_TOKEN_WIDTH], row[_TOKEN_WIDTH:-1], row[-1]
        if token_columns[_TOKEN_PK] is not None:
            self.token_session = raw_sql.instance(TokenSession, token_columns, db)
            if user_columns[_USER_PK] is not None:
                _USER_READ.set(raw_sql.instance(User, user_columns, db))
        return self.model(session_key=self.session_key, session_data=session_data)
