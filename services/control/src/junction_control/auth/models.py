"""The admin_sessions table: only the SHA-256 of each session token is kept."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from junction_control.columns import UtcDateTime, new_id, utcnow


class AdminSession(SQLModel, table=True):
    """A logged-in user until `expires_at` (or logout)."""

    __tablename__ = "admin_sessions"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: str = Field(foreign_key="users.id", ondelete="CASCADE", index=True, max_length=36)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
