"""Logging in and out of the admin API, and what a session token is worth."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy import text
from sqlmodel import select

from junction_control.auth.models import AdminSession
from junction_control.auth.service import hash_session_token
from junction_control.columns import utcnow
from junction_control.db import Database
from junction_control.users.models import User

from .conftest import PASSWORD, World


async def test_login_me_logout(admin: httpx.AsyncClient, world: World, database: Database) -> None:
    login = await admin.post("/auth/login", json={"email": "Owner@Acme.test", "password": PASSWORD})
    assert login.status_code == 200
    token = login.json()["token"]
    headers = {"authorization": f"Bearer {token}"}

    me = await admin.get("/auth/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["email"] == "owner@acme.test"
    assert me.json()["is_platform_admin"] is False
    assert me.json()["memberships"] == [{"tenant_id": world.acme.tenant_id, "role": "owner"}]

    async with database.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT token_hash FROM admin_sessions"))).scalars()
        hashes = set(stored)
    assert hash_session_token(token) in hashes
    assert token not in hashes

    assert (await admin.post("/auth/logout", headers=headers)).status_code == 204
    after = await admin.get("/auth/me", headers=headers)
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "unauthenticated"


async def test_a_session_lasts_twelve_hours_by_default(
    admin: httpx.AsyncClient, world: World
) -> None:
    before = utcnow()
    login = await admin.post(
        "/auth/login", json={"email": world["viewer"].email, "password": PASSWORD}
    )

    delta = datetime.fromisoformat(login.json()["expires_at"]) - before
    assert timedelta(hours=11, minutes=59) < delta <= timedelta(hours=12, minutes=1)


async def test_wrong_password_unknown_email_and_disabled_user_look_the_same(
    admin: httpx.AsyncClient, world: World, database: Database
) -> None:
    async with database.session() as session:
        user = await session.get(User, world["member"].user_id)
        assert user is not None
        user.disabled = True
        session.add(user)
        await session.commit()

    attempts = [
        {"email": world["viewer"].email, "password": "not the password at all"},
        {"email": "nobody@acme.test", "password": PASSWORD},
        {"email": world["member"].email, "password": PASSWORD},
    ]
    answers = [await admin.post("/auth/login", json=body) for body in attempts]

    assert [a.status_code for a in answers] == [401, 401, 401]
    assert len({a.text for a in answers}) == 1
    assert answers[0].json()["error"] == {
        "code": "unauthenticated",
        "message": "invalid email or password",
    }
    # the disabled user's live session stops working too
    me = await admin.get("/auth/me", headers=world["member"].headers)
    assert me.status_code == 401


async def test_missing_garbage_and_expired_sessions_are_refused(
    admin: httpx.AsyncClient, world: World, database: Database
) -> None:
    async with database.session() as session:
        rows = await session.exec(
            select(AdminSession).where(AdminSession.user_id == world["admin"].user_id)
        )
        for row in rows.all():
            row.expires_at = utcnow() - timedelta(seconds=1)
            session.add(row)
        await session.commit()

    for headers in (
        {},
        {"authorization": "Bearer"},
        {"authorization": "Basic dXNlcjpwYXNz"},
        {"authorization": "Bearer not-a-session"},
        world["admin"].headers,
    ):
        answer = await admin.get("/auth/me", headers=headers)
        assert answer.status_code == 401, headers
        assert answer.json()["error"]["code"] == "unauthenticated"
        assert answer.headers["www-authenticate"] == "Bearer"


async def test_login_validation_names_the_field(admin: httpx.AsyncClient) -> None:
    missing = await admin.post("/auth/login", json={"email": "a@b.c"})
    not_json = await admin.post("/auth/login", content=b"{nope")

    assert missing.status_code == 422
    assert missing.json()["error"]["field"] == "password"
    assert not_json.status_code == 400
    assert not_json.json()["error"]["code"] == "invalid_request"
