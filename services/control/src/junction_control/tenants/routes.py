"""Tenant endpoints: list (your own; all for platform admins), create, read, rename, delete.

A tenant is created with its first owner: the user named by ``owner_email``,
or else the platform admin creating it.

And each tenant's budget over all its keys: read (with its spend), set, lift.
"""

from __future__ import annotations

from sqlmodel import col

from junction_control.admin.access import authenticated, requires
from junction_control.admin.errors import invalid_field, not_found
from junction_control.admin.pagination import keyset_page
from junction_control.admin.registry import Call, Router
from junction_control.admin.schemas import PageQuery
from junction_control.audit.actor import Actor
from junction_control.tenants import budgets, service
from junction_control.tenants.models import Tenant
from junction_control.tenants.schemas import (
    TenantBudgetIn,
    TenantBudgetOut,
    TenantIn,
    TenantOut,
    TenantPage,
    TenantPatch,
)
from junction_control.users.service import find_user_by_email

router = Router("tenants")


@router.add(
    "GET",
    "/tenants",
    summary="Tenants you belong to (every tenant for a platform admin)",
    permission=authenticated(),
    query=PageQuery,
    response=TenantPage,
)
async def list_tenants(call: Call) -> TenantPage:
    rows, next_cursor = await keyset_page(
        call.session,
        service.visible_tenants(call.access.user),
        at=col(Tenant.created_at),
        row_id=col(Tenant.id),
        key=lambda t: (t.created_at, t.id),
        page=call.query(PageQuery),
    )
    return TenantPage(items=[TenantOut.of(t) for t in rows], next_cursor=next_cursor)


@router.add(
    "POST",
    "/tenants",
    summary="Create a tenant with its first owner (platform admins)",
    permission=requires("tenants", "write"),
    body=TenantIn,
    response=TenantOut,
    status=201,
)
async def create_tenant(call: Call) -> TenantOut:
    data = call.body(TenantIn)
    owner = call.access.user
    if data.owner_email is not None:
        found = await find_user_by_email(call.session, data.owner_email)
        if found is None or found.disabled:
            raise invalid_field("owner_email", "no enabled user has that email")
        owner = found
    actor = Actor.api(call.access.user.id)
    tenant = await service.open_tenant(call.session, data.name, owner, actor)
    return TenantOut.of(tenant)


@router.add(
    "GET",
    "/tenants/{tenant_id}",
    summary="One tenant",
    permission=requires("tenants", "read"),
    response=TenantOut,
)
async def get_tenant(call: Call) -> TenantOut:
    tenant = call.access.current_tenant
    return TenantOut.of(tenant)


@router.add(
    "PATCH",
    "/tenants/{tenant_id}",
    summary="Rename a tenant",
    permission=requires("tenants", "write"),
    body=TenantPatch,
    response=TenantOut,
)
async def update_tenant(call: Call) -> TenantOut:
    tenant = call.access.current_tenant
    patch = call.body(TenantPatch)
    if patch.name is not None:
        await service.rename_tenant(call.session, tenant, patch.name)
    await call.audit("tenant.update", "tenant", tenant.id, fields=sorted(patch.model_fields_set))
    return TenantOut.of(tenant)


@router.add(
    "DELETE",
    "/tenants/{tenant_id}",
    summary="Delete a tenant and everything in it (owners, platform admins)",
    permission=requires("tenants", "delete"),
)
async def delete_tenant(call: Call) -> None:
    tenant = call.access.current_tenant
    await call.audit("tenant.delete", "tenant", tenant.id, name=tenant.name)
    await service.delete_tenant(call.session, tenant)


@router.add(
    "GET",
    "/tenants/{tenant_id}/budget",
    summary="The tenant's budget over all its keys, with its spend in the current period",
    permission=requires("tenants", "read"),
    response=TenantBudgetOut,
)
async def get_tenant_budget(call: Call) -> TenantBudgetOut:
    budget = await budgets.get_budget(call.session, call.access.tenant_id)
    if budget is None:
        raise not_found("budget")
    return TenantBudgetOut.of(budget, await budgets.spend_of(call.session, budget))


@router.add(
    "PUT",
    "/tenants/{tenant_id}/budget",
    summary="Set the tenant's budget (a cap over all its keys, apart from credits)",
    permission=requires("tenants", "write"),
    body=TenantBudgetIn,
    response=TenantBudgetOut,
)
async def set_tenant_budget(call: Call) -> TenantBudgetOut:
    data = call.body(TenantBudgetIn)
    spec = budgets.BudgetSpec(data.limit_usd, data.period, data.timezone)
    actor = budgets.Actor(user_id=call.access.user.id)
    budget = await budgets.set_budget(call.session, call.access.current_tenant, spec, actor)
    return TenantBudgetOut.of(budget, await budgets.spend_of(call.session, budget))


@router.add(
    "DELETE",
    "/tenants/{tenant_id}/budget",
    summary="Lift the tenant's budget",
    permission=requires("tenants", "write"),
)
async def delete_tenant_budget(call: Call) -> None:
    actor = budgets.Actor(user_id=call.access.user.id)
    if not await budgets.remove_budget(call.session, call.access.current_tenant, actor):
        raise not_found("budget")
