"""What the shell reads: a tenant's members, keys, providers, models and usage.

The same service queries and response models as the admin API's reads, so
``--json`` prints what the API would answer (whole lists, not pages). Keys
show their prefix, credentials their last four characters and provider
headers their masked values: never a secret.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from junction_control.budgets.spend import key_spends
from junction_control.credits import service as credits
from junction_control.models import service as models
from junction_control.models.schemas import DeploymentOut, ModelOut
from junction_control.providers import service as providers
from junction_control.providers.schemas import CredentialOut, ProviderOut
from junction_control.tenants import budgets
from junction_control.tenants.models import Tenant
from junction_control.tenants.schemas import TenantBudgetOut, TenantOut
from junction_control.tokens import service as tokens
from junction_control.tokens.models import UserToken
from junction_control.tokens.schemas import TokenOut
from junction_control.usage import service as usage
from junction_control.usage.schemas import ModelUsageOut, UsageOut
from junction_control.users import service as users
from junction_control.users.models import OWNER, Membership
from junction_control.users.schemas import MemberOut


class TenantShown(TenantOut):
    """A tenant at a glance: its owners, how much it holds, its budget and credit."""

    owners: list[str]
    members: int
    providers: int
    models: int
    live_keys: int
    balance_usd: float
    billing: str
    budget: TenantBudgetOut | None


class ProviderShown(ProviderOut):
    """A provider with its keys (last four characters only)."""

    keys: list[CredentialOut]


class DeploymentShown(DeploymentOut):
    """A deployment naming its provider."""

    provider: str


class ModelShown(ModelOut):
    """A model with its deployments, in failover order."""

    deployments: list[DeploymentShown]


async def list_tenants(session: AsyncSession) -> list[TenantOut]:
    """Every tenant, oldest first (the shell sees them all, as a platform admin does)."""
    return [TenantOut.of(t) for t in await _all(session, select(Tenant))]


async def show_tenant(session: AsyncSession, tenant: Tenant) -> TenantShown:
    """One tenant with its owners, counts, budget and credit."""
    memberships = await _all(session, users.members_query(tenant.id))
    found = await users.users_by_id(session, [m.user_id for m in memberships])
    budget = await budgets.get_budget(session, tenant.id)
    account = await credits.account_of(session, tenant.id)
    return TenantShown(
        **TenantOut.of(tenant).model_dump(),
        owners=sorted(found[m.user_id].email for m in memberships if m.role == OWNER),
        members=len(memberships),
        providers=await _count(session, providers.providers_query(tenant.id)),
        models=await _count(session, models.models_query(tenant.id)),
        live_keys=await _count(
            session, tokens.tokens_query(tenant.id).where(col(UserToken.revoked_at).is_(None))
        ),
        balance_usd=account.balance_usd,
        billing=account.billing,
        budget=None
        if budget is None
        else TenantBudgetOut.of(budget, await budgets.spend_of(session, budget)),
    )


async def list_members(session: AsyncSession, tenant: Tenant) -> list[MemberOut]:
    """The tenant's members with their roles, oldest first."""
    rows: Sequence[Membership] = await _all(session, users.members_query(tenant.id))
    found = await users.users_by_id(session, [m.user_id for m in rows])
    return [MemberOut.of(m, found[m.user_id]) for m in rows]


async def list_tokens(session: AsyncSession, tenant: Tenant) -> list[TokenOut]:
    """The tenant's keys (prefix and spend; never the value), oldest first."""
    rows: Sequence[UserToken] = await _all(session, tokens.tokens_query(tenant.id))
    spends = await key_spends(await session.connection(), rows, time.time())
    models = await tokens.model_names(session, rows)
    return [TokenOut.of(t, spends[t.id], models[t.id]) for t in rows]


async def list_providers(session: AsyncSession, tenant: Tenant) -> list[ProviderShown]:
    """The tenant's providers with their keys, oldest first; headers masked."""
    shown = []
    for provider in await _all(session, providers.providers_query(tenant.id)):
        keys = await _all(session, providers.credentials_query(provider.id))
        shown.append(
            ProviderShown(
                **ProviderOut.of(provider).model_dump(), keys=[CredentialOut.of(c) for c in keys]
            )
        )
    return shown


async def list_models(session: AsyncSession, tenant: Tenant) -> list[ModelShown]:
    """The tenant's models with their deployments in failover order, oldest first."""
    named: dict[str, str] = {
        p.id: p.name for p in await _all(session, providers.providers_query(tenant.id))
    }
    shown = []
    for model in await _all(session, models.models_query(tenant.id)):
        rows = await _all(session, models.deployments_query(model.id))
        rows = sorted(rows, key=lambda d: (d.priority, -d.weight, d.created_at))
        deployments = [
            DeploymentShown(**DeploymentOut.of(d).model_dump(), provider=named[d.provider_id])
            for d in rows
        ]
        shown.append(ModelShown(**ModelOut.of(model).model_dump(), deployments=deployments))
    return shown


async def usage_summary(
    session: AsyncSession, tenant: Tenant, since: datetime, until: datetime, retention: timedelta
) -> UsageOut:
    """Per-model totals of the calls started in ``[since, until)``, as the API sums them."""
    rows = await usage.usage_totals(session, tenant.id, since, until, retention=retention)
    return UsageOut(since=since, until=until, models=[ModelUsageOut.of(r) for r in rows])


async def _all(session: AsyncSession, query: SelectOfScalar[Any]) -> list[Any]:
    # oldest first, as the admin API pages them; ties broken by the primary key
    entity = query.column_descriptions[0]["entity"]
    keys = [column for column in entity.__table__.primary_key.columns]
    ordered = query.order_by(entity.__table__.c.created_at, *keys)
    return list((await session.exec(ordered)).all())


async def _count(session: AsyncSession, query: SelectOfScalar[Any]) -> int:
    counted = select(func.count()).select_from(query.subquery())
    return int((await session.exec(counted)).one())


def dump(value: BaseModel | Sequence[BaseModel]) -> Any:
    """The JSON-ready form of one response model or a list of them."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return [v.model_dump(mode="json") for v in value]
