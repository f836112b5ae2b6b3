"""The circuit breaker state machine and the board around it, on a clock moved by hand."""

from __future__ import annotations

from junction_engine import verdict
from junction_engine.breakers import Breaker, BreakerPolicy, Change
from junction_engine.routing import HealthBoard, plan
from tests.support.routes import deployment, model_route

POLICY = BreakerPolicy(consecutive=3, rate=0.5, window=30, min_volume=10, base_open=10)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _breaker() -> Breaker:
    return Breaker("deployment", POLICY)


def test_consecutive_failures_open_it_and_a_success_in_between_resets_the_count() -> None:
    b, now = _breaker(), 0.0
    assert not b.fail(now, retry_after=None, error="upstream_error")
    assert not b.fail(now, retry_after=None, error="upstream_error")
    b.succeed(now)
    assert not b.fail(now, retry_after=None, error="upstream_error")
    assert not b.fail(now, retry_after=None, error="upstream_error")
    assert b.state(now) == "closed"
    assert b.fail(now, retry_after=None, error="upstream_timeout")
    assert (b.state(now), b.last_error) == ("open", "upstream_timeout")
    assert not b.usable(now)


def test_a_failure_rate_over_the_window_opens_it_once_the_volume_is_there() -> None:
    b, now = _breaker(), 0.0
    opened = False
    for i in range(12):  # fail, succeed, fail, succeed...: never 3 in a row
        now += 1
        if i % 2:
            b.succeed(now)
        else:
            opened = b.fail(now, retry_after=None, error="upstream_error") or opened
    assert opened
    assert b.state(now) == "open"


def test_failures_spread_wider_than_the_window_do_not_add_up() -> None:
    b, now = _breaker(), 0.0
    for _ in range(30):
        now += 40  # one failure per 40 s, with a success after each
        b.fail(now, retry_after=None, error="upstream_error")
        b.succeed(now)
    assert b.state(now) == "closed"


def test_open_lasts_the_base_then_half_opens_and_lets_exactly_one_probe_through() -> None:
    b, now = _breaker(), 0.0
    for _ in range(3):
        b.fail(now, retry_after=None, error="upstream_error")
    assert b.reopens_in(now) == 10
    now = 9.9
    assert not b.admit(now)
    now = 10.0
    assert b.state(now) == "half_open"
    assert b.admit(now)  # the probe
    assert not b.admit(now)  # everyone else waits for it
    assert not b.usable(now)
    assert b.succeed(now)
    assert b.state(now) == "closed"
    assert b.admit(now)
    assert b.admit(now)


def test_a_failed_probe_reopens_it_for_longer_each_time() -> None:
    b, now = _breaker(), 0.0
    for _ in range(3):
        b.fail(now, retry_after=None, error="upstream_error")
    waits = []
    for _ in range(3):
        now += b.reopens_in(now) or 0.0
        assert b.admit(now)
        assert b.fail(now, retry_after=None, error="upstream_error")
        waits.append(b.reopens_in(now))
    assert waits == [20, 40, 80]
    now += 80
    assert b.admit(now)
    b.succeed(now)
    for _ in range(3):
        b.fail(now, retry_after=None, error="upstream_error")
    assert b.reopens_in(now) == 10  # a close forgets the backoff


def test_retry_after_opens_it_at_once_for_what_the_provider_asked() -> None:
    b = _breaker()
    assert b.fail(0.0, retry_after=42, error="upstream_rate_limited")
    assert b.reopens_in(0.0) == 42
    # when the count opens it, Retry-After still wins over a shorter base
    c = _breaker()
    c.fail(0.0, retry_after=None, error="upstream_error")
    c.fail(0.0, retry_after=None, error="upstream_error")
    c.fail(0.0, retry_after=None, error="upstream_error")
    assert c.reopens_in(0.0) == 10
    c.admit(10.0)
    assert c.fail(10.0, retry_after=60, error="upstream_error")
    assert c.reopens_in(10.0) == 60


def test_a_probe_that_says_nothing_frees_the_slot_for_the_next_one() -> None:
    b = _breaker()
    b.fail(0.0, retry_after=5, error="upstream_rate_limited")
    assert b.admit(5.0)
    b.release()  # the provider answered 400: the request's fault, not the provider's
    assert b.state(5.0) == "half_open"
    assert b.admit(5.0)


def test_a_lost_probe_stops_blocking_after_the_probe_timeout() -> None:
    b = _breaker()
    b.fail(0.0, retry_after=5, error="upstream_error")
    assert b.admit(5.0)
    assert not b.admit(5.0 + POLICY.probe_timeout)
    assert b.admit(5.0 + POLICY.probe_timeout + 1)


def test_a_failure_of_a_call_sent_before_it_opened_does_not_stretch_the_open() -> None:
    b = _breaker()
    for _ in range(3):
        b.fail(0.0, retry_after=None, error="upstream_error")
    assert not b.fail(1.0, retry_after=None, error="upstream_error")
    assert b.reopens_in(1.0) == 9


def test_client_errors_do_not_count_and_provider_errors_do() -> None:
    for status in (400, 404, 413, 422):
        v = verdict.on_status(status, "bad request", None)
        assert v.cool is None or not v.counts
    for status in (429, 500, 502, 503, 529):
        assert verdict.on_status(status, "down", None).counts
    refused = verdict.on_status(401, "bad key", None)
    assert (refused.cool, refused.invalid) == ("credential", True)
    assert verdict.sealed_key_unusable().counts is False


def test_an_invalid_credential_stays_out_until_the_route_brings_another_key() -> None:
    clock = Clock()
    board = HealthBoard(clock=clock, policy=POLICY)
    changes: list[Change] = []
    board.listeners.append(changes.append)
    dep = deployment("m", key="sk-old-key-000")
    cred = dep.credentials[0]
    board.invalid(cred, error="upstream_auth_failed")
    assert board.state(cred.id) == "invalid"
    clock.now += 10_000  # time alone does not bring it back
    assert not board.credential_usable(cred)
    assert list(plan(model_route(name="m", deployments=(dep,)), board)) == []
    rotated = deployment("m", key="sk-new-key-111")  # same ids, another sealed key
    assert board.credential_usable(rotated.credentials[0])
    assert board.admit(rotated, rotated.credentials[0])
    assert board.state(cred.id) == "closed"
    assert [(c.key, c.state) for c in changes] == [(cred.id, "invalid"), (cred.id, "closed")]


def test_the_board_skips_open_deployments_and_says_when_it_shed_them() -> None:
    clock = Clock()
    board = HealthBoard(clock=clock, policy=POLICY)
    a = deployment("a", key="k", priority=0)
    b = deployment("b", key="k", priority=1)
    model = model_route(name="m", deployments=(a, b))
    for _ in range(3):
        board.failed(a.id, error="upstream_error")
    pairs = plan(model, board)
    assert [d.id for d, _ in pairs] == [b.id]
    assert pairs.shed
    for _ in range(3):
        board.failed(b.id, error="upstream_error")
    empty = plan(model, board)
    assert list(empty) == []
    assert empty.shed
    assert board.reopens_in([a.id, b.id]) == 10
    clock.now += 10
    # half-open: the primary gets its probe in its own place, ahead of the backup
    assert [d.id for d, _ in plan(model, board)] == [a.id, b.id]
    assert board.admit(a, a.credentials[0])
    assert [d.id for d, _ in plan(model, board)] == [b.id]  # the probe is out
    board.succeeded(a.id)
    assert board.state(a.id) == "closed"


def test_changes_reach_the_listeners_once_per_transition() -> None:
    clock = Clock()
    board = HealthBoard(clock=clock, policy=POLICY)
    seen: list[tuple[str, str]] = []
    board.listeners.append(lambda c: seen.append((c.state, c.origin)))
    for _ in range(5):
        board.failed("d", error="upstream_error")
    clock.now += 10
    board.succeeded("d")
    board.succeeded("d")
    assert seen == [("open", "local"), ("closed", "local")]
