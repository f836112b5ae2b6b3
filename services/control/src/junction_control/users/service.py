"""Users and memberships: creating users, granting, changing and removing roles."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from junction_control.errors import Conflict, InvalidInput, NotFound
from junction_control.route_changes import note_changed
from junction_control.tenants.models import Tenant
from junction_control.tokens import service as tokens
from junction_control.tokens.models import UserToken
from junction_control.users.models import OWNER, ROLES, Membership, User
from junction_control.users.passwords import hash_password, verify_password

_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")


class LastOwner(Conflict):
    """Removing or demoting a tenant's last owner: a tenant always keeps one."""

    code = "last_owner"


def check_email(email: str) -> str:
    """`email` trimmed and lower-cased if it looks like an address, else InvalidInput."""
    clean = email.strip().lower()
    if not _EMAIL_RE.match(clean):
        raise InvalidInput("email is not an email address")
    return clean


def check_role(role: str) -> str:
    """`role` if it is one of the tenant roles, else InvalidInput."""
    if role not in ROLES:
        raise InvalidInput(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


async def find_user_by_email(session: AsyncSession, email: str) -> User | None:
    """The user with `email` (compared lower-cased), if any."""
    result = await session.exec(select(User).where(User.email == email.strip().lower()))
    return result.first()


async def create_user(
    session: AsyncSession,
    email: str,
    password: str,
    *,
    name: str = "",
    is_platform_admin: bool = False,
) -> User:
    """Add a user with an argon2id password hash (flushed); Conflict if the email is taken."""
    address = check_email(email)
    if await find_user_by_email(session, address) is not None:
        raise Conflict(f"a user with email {address!r} already exists")
    user = User(
        email=address,
        name=name,
        password_hash=await asyncio.to_thread(hash_password, password),
        is_platform_admin=is_platform_admin,
    )
    session.add(user)
    await session.flush()
    return user


def set_password_if_changed(user: User, password: str) -> bool:
    """Store `password` unless it already matches the stored hash; whether it changed."""
    if verify_password(user.password_hash, password):
        return False
    user.password_hash = hash_password(password)
    return True


async def memberships_of(session: AsyncSession, user_id: str) -> Sequence[Membership]:
    """Every membership of the user."""
    result = await session.exec(select(Membership).where(Membership.user_id == user_id))
    return result.all()


async def find_membership(session: AsyncSession, tenant_id: str, user_id: str) -> Membership | None:
    """The user's membership in the tenant, if any."""
    return await session.get(Membership, (user_id, tenant_id))


async def get_membership(session: AsyncSession, tenant_id: str, user_id: str) -> Membership:
    """The user's membership in the tenant; NotFound otherwise."""
    membership = await find_membership(session, tenant_id, user_id)
    if membership is None:
        raise NotFound("member not found")
    return membership


async def add_membership(
    session: AsyncSession, tenant: Tenant, user: User, role: str
) -> Membership:
    """Give `user` a role in `tenant` (flushed); Conflict if already a member."""
    check_role(role)
    if await find_membership(session, tenant.id, user.id) is not None:
        raise Conflict(f"that user is already a member of tenant {tenant.name!r}")
    membership = Membership(user_id=user.id, tenant_id=tenant.id, role=role)
    session.add(membership)
    await session.flush()
    return membership


async def set_role(session: AsyncSession, membership: Membership, role: str) -> bool:
    """Change a member's role (flushed); whether it changed. LastOwner if it would leave none.

    The member's live keys in the tenant are noted on the session, so every
    engine drops the routes it cached under the old role after the commit.
    """
    check_role(role)
    if membership.role == role:
        return False
    if membership.role == OWNER:
        await _keep_an_owner(session, membership.tenant_id)
    membership.role = role
    session.add(membership)
    await session.flush()
    owned = await session.exec(
        select(UserToken.token_hash).where(
            UserToken.tenant_id == membership.tenant_id,
            UserToken.owner_user_id == membership.user_id,
            col(UserToken.revoked_at).is_(None),
        )
    )
    for token_hash in owned.all():
        note_changed(session, token_hash)
    return True


async def may_join_any_tenant(session: AsyncSession, user: User) -> bool:
    """Whether a tenant admin may add `user`: not a platform admin and in no tenant yet.

    Anyone else belongs to someone else; only a platform admin may link them.
    """
    if user.is_platform_admin:
        return False
    return not await memberships_of(session, user.id)


async def remove_membership(session: AsyncSession, membership: Membership) -> int:
    """Take a member out of the tenant and revoke the keys they own in it.

    Conflict if they are its last owner. Revoked keys are noted on the
    session, so every engine hears of them after the commit. Returns how many
    keys were revoked.
    """
    if membership.role == OWNER:
        await _keep_an_owner(session, membership.tenant_id)
    owned = await session.exec(
        tokens.tokens_query(membership.tenant_id, owner_user_id=membership.user_id).where(
            col(UserToken.revoked_at).is_(None)
        )
    )
    revoked = 0
    for token in owned.all():
        await tokens.revoke_token(session, token)
        revoked += 1
    await session.delete(membership)
    await session.flush()
    return revoked


async def owner_count(session: AsyncSession, tenant_id: str) -> int:
    """How many owners the tenant has."""
    result = await session.exec(
        select(func.count())
        .select_from(Membership)
        .where(col(Membership.tenant_id) == tenant_id, col(Membership.role) == OWNER)
    )
    return int(result.one())


async def _keep_an_owner(session: AsyncSession, tenant_id: str) -> None:
    if await owner_count(session, tenant_id) <= 1:
        raise LastOwner("that is the tenant's last owner: a tenant keeps at least one owner")


def members_query(tenant_id: str) -> SelectOfScalar[Membership]:
    """Memberships of the tenant."""
    return select(Membership).where(Membership.tenant_id == tenant_id)


async def users_by_id(session: AsyncSession, ids: Sequence[str]) -> dict[str, User]:
    """The users with these ids, by id."""
    if not ids:
        return {}
    result = await session.exec(select(User).where(col(User.id).in_(ids)))
    return {u.id: u for u in result.all()}


async def get_member(
    session: AsyncSession, tenant_id: str, user_id: str
) -> tuple[Membership, User]:
    """A membership of the tenant with its user; NotFound otherwise."""
    membership = await get_membership(session, tenant_id, user_id)
    user = await session.get(User, user_id)
    if user is None:  # pragma: no cover - the foreign key keeps them together
        raise NotFound("member not found")
    return membership, user
