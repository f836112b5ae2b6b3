"""Logging in and out: random session tokens, stored as SHA-256 only.

A session token is 32 random bytes, URL-safe base64. The database keeps its
SHA-256, so a leaked table opens no session. Wrong emails, wrong passwords
and disabled users all fail the same way (and cost the same argon2 run), so
the login answer never tells whether an address exists.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from junction_control.auth.models import AdminSession
from junction_control.columns import utcnow
from junction_control.users.models import User
from junction_control.users.passwords import verify_password
from junction_control.users.service import find_user_by_email

SESSION_TOKEN_BYTES = 32


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session and its raw token (returned to the client once)."""

    token: str
    expires_at: datetime
    user: User


def hash_session_token(raw: str) -> str:
    """SHA-256 hex of a raw session token."""
    return hashlib.sha256(raw.encode()).hexdigest()


async def login(
    session: AsyncSession, email: str, password: str, *, lifetime: timedelta
) -> NewSession | None:
    """A new session when the password is right and the user enabled; None otherwise."""
    user = await find_user_by_email(session, email)
    # argon2 takes tens of milliseconds of CPU: keep it off the event loop
    ok = await asyncio.to_thread(
        verify_password, None if user is None else user.password_hash, password
    )
    if user is None or not ok or user.disabled:
        return None
    return await start_session(session, user, lifetime=lifetime)


async def start_session(session: AsyncSession, user: User, *, lifetime: timedelta) -> NewSession:
    """A new session of `user` (whose password was checked), expiring after `lifetime`."""
    raw = secrets.token_urlsafe(SESSION_TOKEN_BYTES)
    now = utcnow()
    row = AdminSession(
        token_hash=hash_session_token(raw), user_id=user.id, expires_at=now + lifetime
    )
    session.add(row)
    # expired sessions of this user are dead weight; drop them while we are here
    await session.exec(
        delete(AdminSession).where(
            col(AdminSession.user_id) == user.id, col(AdminSession.expires_at) <= now
        )
    )
    await session.flush()
    return NewSession(token=raw, expires_at=row.expires_at, user=user)


async def session_user(session: AsyncSession, raw: str) -> tuple[AdminSession, User] | None:
    """The live session of a raw token and its enabled user, or None."""
    result = await session.exec(
        select(AdminSession, User)
        .join(User, col(User.id) == col(AdminSession.user_id))
        .where(AdminSession.token_hash == hash_session_token(raw))
    )
    row = result.first()
    if row is None:
        return None
    admin_session, user = row
    if admin_session.expires_at <= utcnow() or user.disabled:
        return None
    return admin_session, user


async def logout(session: AsyncSession, admin_session: AdminSession) -> None:
    """End a session."""
    await session.delete(admin_session)
    await session.flush()
