"""The retry budget: retries stay within a share of first attempts, plus a small floor."""

from __future__ import annotations

from junction_engine.retry_budget import RetryBudget


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_quiet_engine_may_still_fail_over_within_the_floor() -> None:
    budget = RetryBudget(ratio=0.2, floor=3, window=10, clock=Clock())
    allowed = 0
    for _ in range(5):
        budget.first()
        if budget.can_retry():
            budget.retry()
            allowed += 1
    assert allowed == 4  # the floor of 3, plus a fifth of 5 first attempts


def test_under_steady_load_retries_stay_within_the_ratio_plus_the_floor() -> None:
    clock = Clock()
    budget = RetryBudget(ratio=0.2, floor=3, window=10, clock=clock)
    firsts = retries = 0
    for _ in range(600):  # 10 requests a second for a minute, every one wanting a retry
        clock.now += 0.1
        budget.first()
        firsts += 1
        if budget.can_retry():
            budget.retry()
            retries += 1
    # a fifth of the first attempts, plus the floor once per window (23 of 100 a window)
    assert (firsts + retries) / firsts <= 1.25


def test_the_budget_refills_as_the_window_moves_on() -> None:
    clock = Clock()
    budget = RetryBudget(ratio=0.0, floor=2, window=10, clock=clock)
    budget.retry()
    budget.retry()
    assert not budget.can_retry()
    clock.now += 11
    assert budget.can_retry()
