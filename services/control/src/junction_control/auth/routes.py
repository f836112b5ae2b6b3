"""Session endpoints: log in with email and password, log out, who am I."""

from __future__ import annotations

from datetime import timedelta
from typing import cast

from sqlmodel import col, select

from junction_control.admin.access import authenticated
from junction_control.admin.errors import unauthenticated
from junction_control.admin.registry import Call, Router
from junction_control.auth import service
from junction_control.auth.permissions import (
    Grant,
    allowed_grants,
    candidate_grants,
    platform_grants,
)
from junction_control.auth.schemas import CurrentUserOut, PermissionOut, TenantAccessOut
from junction_control.tenants.models import Tenant
from junction_control.users.models import Role
from junction_control.users.schemas import LoginIn, MembershipOut, SessionOut

router = Router("auth")
# one message for every failed login: an unknown email must look like a wrong password
LOGIN_FAILED = "invalid email or password"


@router.add(
    "POST",
    "/auth/login",
    summary="Log in; the token goes in `Authorization: Bearer <token>`",
    permission=None,
    body=LoginIn,
    response=SessionOut,
    errors=(401,),
)
async def login(call: Call) -> SessionOut:
    data = call.body(LoginIn)
    hours = call.context.settings.admin_session_hours
    new = await service.login(
        call.session, data.email, data.password, lifetime=timedelta(hours=hours)
    )
    if new is None:
        raise unauthenticated(LOGIN_FAILED)
    return SessionOut(token=new.token, expires_at=new.expires_at)


@router.add(
    "POST",
    "/auth/logout",
    summary="End the current session",
    permission=authenticated(),
)
async def logout(call: Call) -> None:
    await service.logout(call.session, call.access.session)


@router.add(
    "GET",
    "/auth/me",
    summary="The logged-in user, their memberships and what each role lets them do",
    permission=authenticated(),
    response=CurrentUserOut,
)
async def me(call: Call) -> CurrentUserOut:
    access = call.access
    user = access.user
    memberships = sorted(access.memberships, key=lambda m: m.tenant_id)
    rows = await call.session.exec(
        select(Tenant.id, Tenant.name).where(col(Tenant.id).in_([m.tenant_id for m in memberships]))
    )
    names = dict(rows.all())
    candidates = candidate_grants()
    return CurrentUserOut(
        id=user.id,
        email=user.email,
        name=user.name,
        is_platform_admin=user.is_platform_admin,
        memberships=[
            MembershipOut(tenant_id=m.tenant_id, role=cast(Role, m.role)) for m in memberships
        ],
        tenants=[
            TenantAccessOut(
                tenant_id=m.tenant_id,
                tenant_name=names.get(m.tenant_id, ""),
                role=cast(Role, m.role),
                permissions=_out(
                    allowed_grants(access.authorizer, user, memberships, m.tenant_id, candidates)
                ),
            )
            for m in memberships
        ],
        platform_permissions=_out(platform_grants(access.authorizer, user, memberships)),
    )


def _out(grants: list[Grant]) -> list[PermissionOut]:
    return [PermissionOut(resource=g.resource, action=g.action) for g in grants]
