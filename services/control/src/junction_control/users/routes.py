"""Member endpoints: who belongs to a tenant, with which role.

Adding a member by an unknown email creates the user (a password is then
required). Granting, changing or removing the owner role needs the
``users:owner`` permission (owners and platform admins), and a tenant always
keeps at least one owner.
"""

from __future__ import annotations

from sqlmodel import col

from junction_control.admin.access import requires
from junction_control.admin.errors import forbidden, invalid_field
from junction_control.admin.pagination import keyset_page
from junction_control.admin.registry import Call, Router
from junction_control.admin.schemas import PageQuery
from junction_control.users import service
from junction_control.users.models import Membership
from junction_control.users.schemas import MemberIn, MemberOut, MemberPage, MemberPatch

router = Router("members")
OWNER = "owner"


@router.add(
    "GET",
    "/tenants/{tenant_id}/members",
    summary="Members of the tenant",
    permission=requires("users", "read"),
    query=PageQuery,
    response=MemberPage,
)
async def list_members(call: Call) -> MemberPage:
    rows, next_cursor = await keyset_page(
        call.session,
        service.members_query(call.access.tenant_id),
        at=col(Membership.created_at),
        row_id=col(Membership.user_id),
        key=lambda m: (m.created_at, m.user_id),
        page=call.query(PageQuery),
    )
    users = await service.users_by_id(call.session, [m.user_id for m in rows])
    return MemberPage(
        items=[MemberOut.of(m, users[m.user_id]) for m in rows], next_cursor=next_cursor
    )


@router.add(
    "POST",
    "/tenants/{tenant_id}/members",
    summary="Add a member (creating the user if the email is new)",
    permission=requires("users", "write"),
    body=MemberIn,
    response=MemberOut,
    status=201,
)
async def add_member(call: Call) -> MemberOut:
    data = call.body(MemberIn)
    _check_owner_change(call, data.role)
    user = await service.find_user_by_email(call.session, data.email)
    created = user is None
    if user is None:
        if data.password is None:
            raise invalid_field("password", "is required to create a new user")
        user = await service.create_user(call.session, data.email, data.password, name=data.name)
    membership = await service.add_membership(
        call.session, call.access.current_tenant, user, data.role
    )
    await call.audit("member.add", "user", user.id, role=data.role, user_created=created)
    return MemberOut.of(membership, user)


@router.add(
    "PATCH",
    "/tenants/{tenant_id}/members/{user_id}",
    summary="Change a member's role",
    permission=requires("users", "write"),
    body=MemberPatch,
    response=MemberOut,
)
async def update_member(call: Call) -> MemberOut:
    role = call.body(MemberPatch).role
    membership, user = await service.get_member(
        call.session, call.access.tenant_id, call.path("user_id")
    )
    _check_owner_change(call, role, membership.role)
    before = membership.role
    await service.set_role(call.session, membership, role)
    await call.audit("member.update", "user", user.id, role=role, previous_role=before)
    return MemberOut.of(membership, user)


@router.add(
    "DELETE",
    "/tenants/{tenant_id}/members/{user_id}",
    summary="Remove a member from the tenant",
    permission=requires("users", "write"),
)
async def remove_member(call: Call) -> None:
    membership, user = await service.get_member(
        call.session, call.access.tenant_id, call.path("user_id")
    )
    _check_owner_change(call, membership.role)
    await service.remove_membership(call.session, membership)
    await call.audit("member.remove", "user", user.id, role=membership.role)


def _check_owner_change(call: Call, *roles: str) -> None:
    if OWNER in roles and not call.access.can("users:owner", "write"):
        raise forbidden()
