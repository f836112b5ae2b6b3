"""Request and response bodies of the tenant endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from junction_control.admin.schemas import Input, Page, Slug
from junction_control.tenants.models import Tenant


class TenantIn(Input):
    name: Slug


class TenantPatch(Input):
    name: Slug | None = None


class TenantOut(BaseModel):
    id: str
    name: str
    created_at: datetime

    @classmethod
    def of(cls, tenant: Tenant) -> TenantOut:
        return cls(id=tenant.id, name=tenant.name, created_at=tenant.created_at)


TenantPage = Page[TenantOut]
