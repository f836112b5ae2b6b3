"""Request and response bodies of the member endpoints and of ``/auth``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, cast

from pydantic import BaseModel, Field

from junction_control.admin.schemas import Input, Page, printable
from junction_control.users.models import Membership, Role, User

Email = Annotated[str, Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$"), printable]
Password = Annotated[str, Field(min_length=12, max_length=1024)]


class MemberIn(Input):
    """Add a user to the tenant; the user is created when the email is new."""

    email: Email
    role: Role
    name: Annotated[str, Field(max_length=200), printable] = ""
    # required when the user does not exist yet; ignored (never changed) otherwise
    password: Password | None = None


class MemberPatch(Input):
    role: Role


class MemberOut(BaseModel):
    user_id: str
    email: str
    name: str
    role: Role
    disabled: bool
    created_at: datetime

    @classmethod
    def of(cls, membership: Membership, user: User) -> MemberOut:
        return cls(
            user_id=user.id,
            email=user.email,
            name=user.name,
            role=cast(Role, membership.role),  # the check constraint holds it to Role
            disabled=user.disabled,
            created_at=membership.created_at,
        )


MemberPage = Page[MemberOut]


class LoginIn(Input):
    email: Annotated[str, Field(min_length=1, max_length=320), printable]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class SessionOut(BaseModel):
    token: str
    expires_at: datetime


class MembershipOut(BaseModel):
    tenant_id: str
    role: Role


class MeOut(BaseModel):
    id: str
    email: str
    name: str
    is_platform_admin: bool
    memberships: list[MembershipOut]
