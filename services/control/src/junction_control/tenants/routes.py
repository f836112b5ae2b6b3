"""Tenant endpoints: list (your own; all for platform admins), create, read, rename, delete."""

from __future__ import annotations

from sqlmodel import col

from junction_control.admin.access import authenticated, requires
from junction_control.admin.pagination import keyset_page
from junction_control.admin.registry import Call, Router
from junction_control.admin.schemas import PageQuery
from junction_control.tenants import service
from junction_control.tenants.models import Tenant
from junction_control.tenants.schemas import TenantIn, TenantOut, TenantPage, TenantPatch

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
    summary="Create a tenant (platform admins)",
    permission=requires("tenants", "write"),
    body=TenantIn,
    response=TenantOut,
    status=201,
)
async def create_tenant(call: Call) -> TenantOut:
    tenant = await service.create_tenant(call.session, call.body(TenantIn).name)
    await call.audit("tenant.create", "tenant", tenant.id, tenant_id=tenant.id, name=tenant.name)
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
