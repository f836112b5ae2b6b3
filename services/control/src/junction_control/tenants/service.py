"""Creating and finding tenants."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from junction_control.errors import Conflict, NotFound
from junction_control.naming import check_slug
from junction_control.tenants.models import Tenant


async def find_tenant(session: AsyncSession, name: str) -> Tenant | None:
    """The tenant called `name`, if any."""
    result = await session.exec(select(Tenant).where(Tenant.name == name))
    return result.first()


async def get_tenant(session: AsyncSession, name: str) -> Tenant:
    """The tenant called `name`; NotFound otherwise."""
    tenant = await find_tenant(session, name)
    if tenant is None:
        raise NotFound(f"tenant {name!r} does not exist")
    return tenant


async def create_tenant(session: AsyncSession, name: str) -> Tenant:
    """Add a tenant (flushed, not committed); Conflict if the name is taken."""
    check_slug(name, what="tenant")
    if await find_tenant(session, name) is not None:
        raise Conflict(f"tenant {name!r} already exists")
    tenant = Tenant(name=name)
    session.add(tenant)
    await session.flush()
    return tenant
