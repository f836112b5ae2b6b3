"""The users and memberships tables."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from junction_control.columns import UtcDateTime, new_id, utcnow

Role = Literal["owner", "admin", "member", "viewer"]
ROLES: tuple[Role, ...] = ("owner", "admin", "member", "viewer")
#: the role that manages owners and deletes the tenant; every tenant keeps one
OWNER: Role = "owner"


class User(SQLModel, table=True):
    """A person who logs in to the admin API; emails are unique and lower case."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("email", name="uq_users_email"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    email: str = Field(max_length=320)
    name: str = Field(default="", max_length=200)
    # argon2id, in the PHC string format argon2-cffi writes
    password_hash: str = Field(max_length=255)
    is_platform_admin: bool = Field(default=False)
    disabled: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)


class Membership(SQLModel, table=True):
    """A user's role in one tenant."""

    __tablename__ = "memberships"
    __table_args__ = (
        CheckConstraint(
            "role IN ('owner', 'admin', 'member', 'viewer')", name="ck_memberships_role"
        ),
    )

    user_id: str = Field(
        foreign_key="users.id", ondelete="CASCADE", primary_key=True, max_length=36
    )
    tenant_id: str = Field(
        foreign_key="tenants.id", ondelete="CASCADE", primary_key=True, index=True, max_length=36
    )
    role: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
