"""Refused reaches for another tenant's rows: whose row an id names, and its ``denied`` row.

A caller who puts another tenant's token, provider, model (…) id under a
tenant of their own (in the path, or a body's ``provider_id``) gets the same
404 or 422 as for an id that does not exist; the owning tenant's audit trail
still hears of it. The lookups are one indexed query per id, run on
refusals alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar
from starlette.requests import Request

from junction_control.admin.access import ROUTE_KEY, Access
from junction_control.alerts.models import AlertEvent
from junction_control.audit.service import record_denial
from junction_control.models.models import AiModel, Deployment
from junction_control.providers.models import Credential, Provider
from junction_control.tokens.models import UserToken
from junction_control.usage.models import ModelCall


def _owner_query(param: str, value: str) -> SelectOfScalar[str] | None:
    match param:
        case "token_id":
            return select(UserToken.tenant_id).where(UserToken.id == value)
        case "provider_id":
            return select(Provider.tenant_id).where(Provider.id == value)
        case "credential_id":
            return (
                select(Provider.tenant_id)
                .join(Credential, Credential.provider_id == Provider.id)  # type: ignore[arg-type]
                .where(Credential.id == value)
            )
        case "model_id":
            return select(AiModel.tenant_id).where(AiModel.id == value)
        case "deployment_id":
            return (
                select(AiModel.tenant_id)
                .join(Deployment, Deployment.model_id == AiModel.id)  # type: ignore[arg-type]
                .where(Deployment.id == value)
            )
        case "call_id":
            return select(ModelCall.tenant_id).where(ModelCall.id == value)
        case "delivery_id":
            return select(AlertEvent.tenant_id).where(AlertEvent.id == value)
    return None


async def owner_of(session: AsyncSession, param: str, value: str) -> str | None:
    """The tenant id of the row that path parameter `param` = `value` names; None if none."""
    query = _owner_query(param, value)
    if query is None:
        return None
    return (await session.exec(query)).first()


async def audit_reach(
    request: Request,
    session: AsyncSession,
    access: Access,
    wanted: str,
    ids: Sequence[tuple[str, str]],
    *,
    status: int = 404,
) -> None:
    """Write a ``denied`` row to the owner's trail for the first of `ids` that is not the caller's.

    `ids` are (parameter name, value) pairs, e.g. ``("token_id", "…")``. An
    id is not the caller's when another tenant owns it, or, for a caller
    limited to their own keys, when it is a key of their tenant (the
    handler already refused anybody else's). Whatever the request wrote is
    rolled back first, so the denial commits alone; an id no tenant owns
    leaves no row. `status` is what the caller is answered.
    """
    if access.tenant is None:
        return
    user_id, tenant_id, own_only = access.user.id, access.tenant.id, access.own_only
    await session.rollback()
    for name, value in ids:
        owner = await owner_of(session, name, value)
        if owner is None or (owner == tenant_id and not (own_only and name == "token_id")):
            continue
        await record_denial(
            session,
            user_id=user_id,
            tenant_id=owner,
            target=name.removesuffix("_id"),
            wanted=wanted,
            method=request.method,
            route=str(request.scope.get(ROUTE_KEY, "")),
            path=request.url.path,
            status=status,
            object_id=value,
        )
        return
