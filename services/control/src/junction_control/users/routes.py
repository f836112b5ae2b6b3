"""Member endpoints: who belongs to a tenant, with which role.

Adding a member by an unknown email creates the user (a password is then
required). An existing user may be added by a tenant admin only while they
belong to no tenant and are not a platform admin; anyone else belongs to
someone else, and is refused exactly as an unknown email would be (422 on the
password without one, a generic 409 with one), so an email never tells whose
it is. Platform admins may add anyone. Removing a member revokes the keys
they own in the tenant. Granting, changing or removing the owner role needs the
``users:owner`` permission (owners and platform admins), and a tenant always
keeps at least one owner: removing or demoting the last one is a 409
``last_owner``. The writes themselves (audit row, route announcements) are
`users.members`, shared with the CLI and ``apply -f``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlmodel import col

from junction_control.admin.access import denied, requires
from junction_control.admin.errors import ApiError, forbidden, invalid_field
from junction_control.admin.pagination import keyset_page
from junction_control.admin.registry import Call, Router
from junction_control.admin.schemas import PageQuery
from junction_control.audit.actor import Actor
from junction_control.users import members, service
from junction_control.users.models import OWNER, Membership, User
from junction_control.users.schemas import MemberIn, MemberOut, MemberPage, MemberPatch

router = Router("members")


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
    await _check_owner_change(call, data.role)
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
    tenant = call.access.current_tenant
    membership = await members.add_member(
        call.session, tenant, user, data.role, _actor(call), user_created=created
    )
    return MemberOut.of(membership, user)


@router.add(
    "PATCH",
    "/tenants/{tenant_id}/members/{user_id}",
    summary="Change a member's role (409 last_owner for the tenant's last owner)",
    permission=requires("users", "write"),
    body=MemberPatch,
    response=MemberOut,
    errors=(409,),
)
async def update_member(call: Call) -> MemberOut:
    role = call.body(MemberPatch).role
    membership, user = await service.get_member(
        call.session, call.access.tenant_id, call.path("user_id")
    )
    await _check_owner_change(call, role, membership.role)
    with _last_owner():
        await members.change_role(call.session, membership, role, _actor(call))
    return MemberOut.of(membership, user)


@router.add(
    "DELETE",
    "/tenants/{tenant_id}/members/{user_id}",
    summary="Remove a member from the tenant (409 last_owner for the tenant's last owner)",
    permission=requires("users", "write"),
    errors=(409,),
)
async def remove_member(call: Call) -> None:
    membership, _user = await service.get_member(
        call.session, call.access.tenant_id, call.path("user_id")
    )
    await _check_owner_change(call, membership.role)
    with _last_owner():
        await members.remove_member(call.session, membership, _actor(call))


async def _may_add(call: Call, user: User) -> bool:
    if call.access.user.is_platform_admin:
        return True
    # already here: add_membership answers 409, and the caller can list members anyway
    if await service.find_membership(call.session, call.access.tenant_id, user.id) is not None:
        return True
    return await service.may_join_any_tenant(call.session, user)


def _password_required() -> ApiError:
    return invalid_field("password", "is required for a new member")


def _actor(call: Call) -> Actor:
    return Actor.api(call.access.user.id)


async def _check_owner_change(call: Call, *roles: str) -> None:
    # before any write: the denial's audit row commits on its own
    if OWNER in roles and not call.access.can("users:owner", "write"):
        access = call.access
        raise await denied(
            call.request, call.session, access.user, access.tenant, "users:owner:write", forbidden()
        )


@contextmanager
def _last_owner() -> Iterator[None]:
    try:
        yield
    except service.LastOwner as exc:
        raise ApiError(409, "last_owner", str(exc)) from None
