"""`make run` makes the console's first admin once, prints the login, and keeps it."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx
import pytest

from tests.e2e.make_run import Launch, launch, stack_env

pytestmark = pytest.mark.e2e


def _log_in(run: Launch, email: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{run.base}/api/v1/auth/login", json={"email": email, "password": password}, timeout=10
    )


def test_first_start_creates_the_console_admin_and_later_starts_reuse_it(tmp_path: Path) -> None:
    env = stack_env(tmp_path)
    stored = Path(env["JUNCTION_VAR_DIR"]) / "console-admin.json"
    first = launch(env, tmp_path / "run1.log")
    try:
        assert first.banner_value("console") == f"{first.base}/"
        email = first.banner_value("console email")
        password = first.banner_value("console password")
        assert stat.S_IMODE(stored.stat().st_mode) == 0o600
        assert json.loads(stored.read_text()) == {"email": email, "password": password}
        assert "console-admin.json" in first.text()  # the banner says where it is kept

        # through Caddy, as the console logs in: a session for a platform admin
        session = _log_in(first, email, password)
        assert session.status_code == 200, session.text
        me = httpx.get(
            f"{first.base}/api/v1/auth/me",
            headers={"Authorization": f"Bearer {session.json()['token']}"},
            timeout=10,
        )
        assert me.status_code == 200, me.text
        assert me.json()["email"] == email
        assert me.json()["is_platform_admin"] is True
        # and the demo tenant's owner: no tenant is left without one
        assert [m["role"] for m in me.json()["memberships"]] == ["owner"]
        assert _log_in(first, email, password + "x").status_code == 401
    finally:
        first.stop()
    saved = stored.read_bytes()

    second = launch(env, tmp_path / "run2.log")
    try:
        assert second.banner_value("console email") == email
        assert second.banner_value("console password") == password
        assert _log_in(second, email, password).status_code == 200
    finally:
        second.stop()
    assert stored.read_bytes() == saved
    # made once: the second start found it and did not say so as an error
    assert f"user {email} created" in first.text()
    assert f"user {email} created" not in second.text()
    assert "already exists" not in second.text()
