"""Member writes, with their side effects, for every path: admin API, CLI and ``apply -f``.

Each one checks the last-owner rule (`service.LastOwner`), appends its
audit row and notes the routes it changes, all in the caller's unit of
work: whoever commits the session commits the three together.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from junction_control.audit.actor import Actor
from junction_control.audit.service import record_by
from junction_control.tenants.models import Tenant
from junction_control.users import service
from junction_control.users.models import Membership, User


async def add_member(
    session: AsyncSession,
    tenant: Tenant,
    user: User,
    role: str,
    actor: Actor,
    *,
    user_created: bool = False,
) -> Membership:
    """Give `user` a role in `tenant` (Conflict if already a member), audited."""
    membership = await service.add_membership(session, tenant, user, role)
    await record_by(
        session,
        actor,
        tenant_id=tenant.id,
        action="member.add",
        object_type="user",
        object_id=user.id,
        role=role,
        user_created=user_created,
    )
    return membership


async def change_role(
    session: AsyncSession, membership: Membership, role: str, actor: Actor
) -> bool:
    """Change a member's role, audited and announced; whether it changed.

    LastOwner when it would demote the tenant's last owner.
    """
    before = membership.role
    if not await service.set_role(session, membership, role):
        return False
    await record_by(
        session,
        actor,
        tenant_id=membership.tenant_id,
        action="member.update",
        object_type="user",
        object_id=membership.user_id,
        role=role,
        previous_role=before,
    )
    return True


async def remove_member(session: AsyncSession, membership: Membership, actor: Actor) -> int:
    """Take a member out (revoking their keys there), audited; how many keys were revoked.

    LastOwner when they are the tenant's last owner.
    """
    role = membership.role
    revoked = await service.remove_membership(session, membership)
    await record_by(
        session,
        actor,
        tenant_id=membership.tenant_id,
        action="member.remove",
        object_type="user",
        object_id=membership.user_id,
        role=role,
        tokens_revoked=revoked,
    )
    return revoked
