"""The body of ``GET /auth/me``: who the caller is, and what they may do where."""

from __future__ import annotations

from pydantic import BaseModel

from junction_control.users.models import Role
from junction_control.users.schemas import MeOut


class PermissionOut(BaseModel):
    """One (resource, action) pair Casbin allows, e.g. tokens/write or tokens:own/read."""

    resource: str
    action: str


class TenantAccessOut(BaseModel):
    """A tenant the caller belongs to: their role in it and every pair it permits there."""

    tenant_id: str
    tenant_name: str
    role: Role
    permissions: list[PermissionOut]


class CurrentUserOut(MeOut):
    """The logged-in user, their memberships, and their permissions per tenant.

    `platform_permissions` are the pairs held outside any tenant (a platform
    admin holds every pair in every tenant, member or not).
    """

    tenants: list[TenantAccessOut]
    platform_permissions: list[PermissionOut]
