"""Creating and finding tenants."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from junction_control.errors import Conflict, NotFound
from junction_control.naming import check_slug
from junction_control.route_changes import note_live_tokens
from junction_control.tenants.models import Tenant
from junction_control.users.models import Membership, User


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


def visible_tenants(user: User) -> SelectOfScalar[Tenant]:
    """The tenants `user` may list: all for a platform admin, else those they belong to."""
    query = select(Tenant)
    if not user.is_platform_admin:
        member_of = select(Membership.tenant_id).where(Membership.user_id == user.id)
        query = query.where(col(Tenant.id).in_(member_of))
    return query


async def rename_tenant(session: AsyncSession, tenant: Tenant, name: str) -> None:
    """Give `tenant` a new name; Conflict if another tenant has it."""
    check_slug(name, what="tenant")
    if name == tenant.name:
        return
    if await find_tenant(session, name) is not None:
        raise Conflict(f"tenant {name!r} already exists")
    tenant.name = name
    session.add(tenant)
    await session.flush()


async def delete_tenant(session: AsyncSession, tenant: Tenant) -> None:
    """Delete `tenant` and (by cascade) every row it owns, noting its live keys first.

    The keys are looked up before the delete so that, after the commit, every
    engine hears that they stopped resolving.
    """
    await note_live_tokens(session, tenant.id)
    await session.delete(tenant)
    await session.flush()
