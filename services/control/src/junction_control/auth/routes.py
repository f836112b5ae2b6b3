"""Session endpoints: log in with email and password, log out, who am I."""

from __future__ import annotations

from datetime import timedelta
from typing import cast

from junction_control.admin.access import authenticated
from junction_control.admin.errors import unauthenticated
from junction_control.admin.registry import Call, Router
from junction_control.auth import service
from junction_control.users.models import Role
from junction_control.users.schemas import LoginIn, MembershipOut, MeOut, SessionOut

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
    summary="The logged-in user and their memberships",
    permission=authenticated(),
    response=MeOut,
)
async def me(call: Call) -> MeOut:
    user = call.access.user
    return MeOut(
        id=user.id,
        email=user.email,
        name=user.name,
        is_platform_admin=user.is_platform_admin,
        memberships=[
            MembershipOut(tenant_id=m.tenant_id, role=cast(Role, m.role))
            for m in call.access.memberships
        ],
    )
