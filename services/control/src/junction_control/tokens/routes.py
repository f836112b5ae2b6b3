"""User-token endpoints. Members see, revoke and regenerate only the tokens they own."""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlmodel import col

from junction_control.admin.access import requires
from junction_control.admin.errors import invalid_field
from junction_control.admin.pagination import keyset_page
from junction_control.admin.registry import Call, Router
from junction_control.admin.schemas import PageQuery
from junction_control.budgets.spend import PeriodSpend, key_spends
from junction_control.errors import NotFound
from junction_control.models.service import check_models_exist
from junction_control.tokens import service, writes
from junction_control.tokens.models import UserToken
from junction_control.tokens.schemas import (
    TokenCreated,
    TokenIn,
    TokenOut,
    TokenPage,
    TokenPatch,
    created,
)

router = Router("tokens")


def _owner(call: Call) -> str | None:
    # a caller who may only touch their own tokens never sees anybody else's
    return call.access.user.id if call.access.own_only else None


async def _token(call: Call) -> UserToken:
    return await service.get_token_by_id(
        call.session, call.access.tenant_id, call.path("token_id"), owner_user_id=_owner(call)
    )


async def _spends(call: Call, tokens: Sequence[UserToken]) -> dict[str, PeriodSpend]:
    return await key_spends(await call.session.connection(), tokens, time.time())


async def _out(call: Call, token: UserToken) -> TokenOut:
    models = (await service.model_names(call.session, [token]))[token.id]
    return TokenOut.of(token, (await _spends(call, [token]))[token.id], models)


async def _created(call: Call, fresh: service.CreatedToken) -> TokenCreated:
    token = fresh.token
    models = (await service.model_names(call.session, [token]))[token.id]
    return created(token, fresh.raw, (await _spends(call, [token]))[token.id], models)


async def _check_models(call: Call, models: list[str] | None) -> None:
    try:
        await check_models_exist(call.session, call.access.current_tenant, models or ())
    except NotFound as exc:
        raise invalid_field("models", str(exc)) from None


@router.add(
    "GET",
    "/tenants/{tenant_id}/tokens",
    summary="The tenant's tokens (a member: their own)",
    permission=requires("tokens", "read", own=True),
    query=PageQuery,
    response=TokenPage,
)
async def list_tokens(call: Call) -> TokenPage:
    rows, next_cursor = await keyset_page(
        call.session,
        service.tokens_query(call.access.tenant_id, owner_user_id=_owner(call)),
        at=col(UserToken.created_at),
        row_id=col(UserToken.id),
        key=lambda t: (t.created_at, t.id),
        page=call.query(PageQuery),
    )
    spends = await _spends(call, rows)
    models = await service.model_names(call.session, rows)
    return TokenPage(
        items=[TokenOut.of(t, spends[t.id], models[t.id]) for t in rows], next_cursor=next_cursor
    )


@router.add(
    "POST",
    "/tenants/{tenant_id}/tokens",
    summary="Create a token; the response holds its value, shown only this once",
    permission=requires("tokens", "write", own=True),
    body=TokenIn,
    response=TokenCreated,
    status=201,
)
async def create_token(call: Call) -> TokenCreated:
    data = call.body(TokenIn)
    await _check_models(call, data.models)
    new = await writes.create_token(
        call.session,
        call.access.current_tenant,
        data.name,
        data.limits(),
        call.actor,
        owner_user_id=call.access.user.id,
    )
    return await _created(call, new)


@router.add(
    "GET",
    "/tenants/{tenant_id}/tokens/{token_id}",
    summary="One token",
    permission=requires("tokens", "read", own=True),
    response=TokenOut,
)
async def get_token(call: Call) -> TokenOut:
    return await _out(call, await _token(call))


@router.add(
    "PATCH",
    "/tenants/{tenant_id}/tokens/{token_id}",
    summary="Change a token's models and limits",
    permission=requires("tokens", "write"),
    body=TokenPatch,
    response=TokenOut,
)
async def update_token(call: Call) -> TokenOut:
    data = call.body(TokenPatch)
    token = await _token(call)
    if "models" in data.model_fields_set:
        await _check_models(call, data.models)
    limits = data.limits(await service.limits_of(call.session, token))
    await writes.update_token(
        call.session, token, call.actor, fields=sorted(data.model_fields_set), limits=limits
    )
    return await _out(call, token)


@router.add(
    "POST",
    "/tenants/{tenant_id}/tokens/{token_id}/revoke",
    summary="Revoke a token (engines refuse it once their cached route expires)",
    permission=requires("tokens", "write", own=True),
    response=TokenOut,
)
async def revoke_token(call: Call) -> TokenOut:
    token = await _token(call)
    await writes.revoke_token(call.session, token, call.actor)
    return await _out(call, token)


@router.add(
    "POST",
    "/tenants/{tenant_id}/tokens/{token_id}/regenerate",
    summary="Give a token a new value, shown only this once; the old value stops working",
    permission=requires("tokens", "write", own=True),
    response=TokenCreated,
    errors=(409,),
)
async def regenerate_token(call: Call) -> TokenCreated:
    token = await _token(call)
    return await _created(call, await writes.regenerate_token(call.session, token, call.actor))
