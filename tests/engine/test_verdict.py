"""What each provider answer or failure means: pure decisions, checked without any I/O."""

from __future__ import annotations

import pytest

from junction_engine import verdict
from junction_engine.upstream import UpstreamTimeout, UpstreamUnreachable


@pytest.mark.parametrize(
    ("status", "retry", "cool", "down", "code"),
    [
        (400, False, None, False, "upstream_rejected_request"),
        (422, False, None, False, "upstream_rejected_request"),
        (401, True, "credential", False, "upstream_auth_failed"),
        (403, True, "credential", False, "upstream_auth_failed"),
        (429, True, "credential", False, "upstream_rate_limited"),
        (404, True, "deployment", True, "upstream_error"),
        (500, True, "deployment", True, "upstream_error"),
        (529, True, "deployment", True, "upstream_error"),
    ],
)
def test_each_status_has_one_verdict(
    status: int, retry: bool, cool: str | None, down: bool, code: str
) -> None:
    v = verdict.on_status(status, "the message", None)
    assert (v.retry, v.cool, v.deployment_down, v.error.code) == (retry, cool, down, code)


def test_retry_after_sets_the_cooldown_and_the_clients_header() -> None:
    v = verdict.on_status(429, "slow down", "7")
    assert v.cool_for == 7.0
    assert v.error.headers == {"retry-after": "7"}
    assert verdict.on_status(503, "busy", "120").cool_for == 120.0


def test_a_rejected_request_keeps_the_providers_message_and_status() -> None:
    v = verdict.on_status(413, "prompt too long", None)
    assert (v.error.status, v.error.message) == (413, "prompt too long")


def test_failures_before_an_answer_fail_over_with_their_own_codes() -> None:
    assert verdict.on_failure(UpstreamUnreachable("x")).error.code == "upstream_unreachable"
    timed_out = verdict.on_failure(UpstreamTimeout("x"))
    assert (timed_out.error.code, timed_out.error.status) == ("upstream_timeout", 504)
    for v in (verdict.broken_answer(), verdict.malformed_answer(), verdict.stream_failed_early()):
        assert (v.retry, v.cool, v.deployment_down) == (True, "deployment", True)
