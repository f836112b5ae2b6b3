"""Authorization decisions are logged at DEBUG, and only there."""

from __future__ import annotations

import logging

import pytest

from junction_control.rbac.authorizer import Authorizer


def _decide(authorizer: Authorizer, act: str) -> bool:
    return authorizer.allowed(
        "user-1",
        [("viewer", "tenant-1")],
        is_platform_admin=False,
        domain="tenant-1",
        obj="tenants",
        act=act,
    )


def test_each_decision_is_logged_at_debug_with_who_what_and_where(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="junction.control.authz")
    authorizer = Authorizer()

    allowed, denied = _decide(authorizer, "read"), _decide(authorizer, "delete")

    assert (allowed, denied) == (True, False)
    lines = [r for r in caplog.records if r.name == "junction.control.authz"]
    assert [(r.levelno, r.getMessage()) for r in lines] == [
        (logging.DEBUG, "authorization allowed"),
        (logging.DEBUG, "authorization denied"),
    ]
    assert [(r.user_id, r.domain, r.object, r.action) for r in lines] == [  # type: ignore[attr-defined]
        ("user-1", "tenant-1", "tenants", "read"),
        ("user-1", "tenant-1", "tenants", "delete"),
    ]


def test_at_info_no_decision_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    authorizer = Authorizer()

    _decide(authorizer, "read")
    _decide(authorizer, "delete")

    assert [
        r for r in caplog.records if r.name.startswith(("junction.control.authz", "casbin"))
    ] == []
