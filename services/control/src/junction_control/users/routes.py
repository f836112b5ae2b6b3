"""Member endpoints: who belongs to a tenant, with which role.

Adding a member by an unknown email creates the user (a password is then
required). An existing user may be added by a tenant admin only while they
belong to no tenant and are not a platform admin; anyone else belongs to
someone else, and is refused exactly as an unknown email would be (422 on the
password without one, a generic 409 with one), so an email never tells whose
it is. Platform admins may add anyone. Removing a member revokes the keys
they own in the tenant. Granting, changing or removing the owner role needs the
``users:owner`` permission (owners and platform admins), and a tenant always
keeps at least one owner.
"""

from __future__ import annotations

from sqlmodel import col

from junction_control.admin.access import requires
from junction_control.admin.errors import ApiError, forbidden, invalid_field
from junction_control.admin.pagination import keyset_page
from junction_control.admin.registry import Call, Router
from junction_control.admin.schemas import PageQuery
from junction_control.users import service
from junction_control.users.models import Membership, User
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
    if user is not None and not await _may_add(call, user):
        # as indistinguishable from an unknown email as uniqueness allows
        if data.password is None:
            raise _password_required()
        raise ApiError(409, "conflict", "that email cannot be added to this tenant")
    created = user is None
    if user is None:
        if data.password is None:
            raise _password_required()
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
    revoked = await service.remove_membership(call.session, membership)
    await call.audit("member.remove", "user", user.id, role=membership.role, tokens_revoked=revoked)


async def _may_add(call: Call, user: User) -> bool:
    if call.access.user.is_platform_admin:
        return True
    # already here: add_membership answers 409, and the caller can list members anyway
    if await service.find_membership(call.session, call.access.tenant_id, user.id) is not None:
        return True
    return await service.may_join_any_tenant(call.session, user)


def _password_required() -> ApiError:
    return invalid_field("password", "is required for a new member")


def _check_owner_change(call: Call, *roles: str) -> None:
    if OWNER in roles and not call.access.can("users:owner", "write"):
        raise forbidden()
