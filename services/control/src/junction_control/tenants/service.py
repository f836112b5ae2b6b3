"""Creating and finding tenants.

A tenant opened through any path (admin API, CLI, ``apply -f``) gets its
first owner in the same unit of work (`open_tenant`), audited with it.
"""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from junction_control.audit.actor import Actor
from junction_control.audit.service import record_by
from junction_control.errors import Conflict, NotFound
from junction_control.naming import check_slug
from junction_control.route_changes import note_live_tokens
from junction_control.tenants.models import Tenant
from junction_control.users import members
from junction_control.users.models import OWNER, Membership, User


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


async def open_tenant(session: AsyncSession, name: str, owner: User | None, actor: Actor) -> Tenant:
    """Add a tenant with `owner` as its first owner (flushed), audited.

    `owner` may be None only for a shell bootstrapping an empty installation,
    whose users come next (`user create --tenant T --role owner`).
    """
    tenant = await create_tenant(session, name)
    await record_by(
        session,
        actor,
        tenant_id=tenant.id,
        action="tenant.create",
        object_type="tenant",
        object_id=tenant.id,
        name=tenant.name,
        owner_user_id=None if owner is None else owner.id,
    )
    if owner is not None:
        await members.add_member(session, tenant, owner, OWNER, actor)
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
