"""The personal API token endpoints (session only: a token cannot mint tokens); GET /api/v1/me is in tasks.api."""

from datetime import datetime
from uuid import UUID

from ninja import Router, Schema
from pydantic import StrictInt

from accounts import selectors, services
from accounts.api_auth import SessionOnlyAuth
from core.audit import Actor
from core.errors import NotFound

tokens_router = Router(tags=["tokens"], auth=SessionOnlyAuth())


class TokenOut(Schema):
    id: UUID
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    expired: bool


class TokenCreatedOut(TokenOut):
    token: str


class TokenIn(Schema):
    name: str
    expires_in_days: StrictInt | None = None


def _out(row, **extra) -> dict:
    return {"id": row.id, "name": row.name, "prefix": row.prefix, "created_at": row.created_at,
            "expires_at": row.expires_at, "last_used_at": row.last_used_at, "expired": row.is_expired(), **extra}


@tokens_router.get("", response=list[TokenOut], summary="Your personal API tokens (never their values)")
def tokens_list(request):
    return [_out(t) for t in selectors.api_token_list(user=request.user)]


@tokens_router.post("", response={201: TokenCreatedOut}, summary="A new token, shown once in `token`")
def tokens_create(request, payload: TokenIn):
    token, plain = services.api_token_create(user=request.user, name=payload.name,
                                             expires_in_days=payload.expires_in_days, actor=Actor.of(request))
    return 201, _out(token, token=plain)


@tokens_router.delete("/{uuid:token_id}", response={204: None}, summary="Revoke one of your tokens")
def tokens_revoke(request, token_id: UUID):
    token = selectors.api_token_get(user=request.user, token_id=token_id)
    if token is None:
        raise NotFound("No such token.")
    services.api_token_revoke(token=token, actor=Actor.of(request))
    return 204, None
