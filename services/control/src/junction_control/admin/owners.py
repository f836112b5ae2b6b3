"""Which tenant owns the row a path id names, for the trail of a refused reach.

A caller who puts another tenant's token, provider, model (…) id under a
tenant of their own gets the same 404 as for an id that does not exist; the
owning tenant's audit trail still hears of it (`registry`). This module only
answers "whose is it": one indexed lookup per id, run on refusals alone.
"""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from junction_control.alerts.models import AlertEvent
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
