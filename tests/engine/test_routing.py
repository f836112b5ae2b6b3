from __future__ import annotations

import random
from collections import Counter

from junction_contracts import ModelRoute
from junction_engine.routing import HealthBoard, plan
from tests.support.routes import deployment, model_route


def _model(*deps: object) -> ModelRoute:
    return model_route(name="m", deployments=tuple(deps))  # type: ignore[arg-type]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_lower_priority_number_is_tried_first() -> None:
    model = _model(deployment("b", key="k", priority=1), deployment("a", key="k", priority=0))
    order = [d.upstream_model for d, _ in plan(model, HealthBoard())]
    assert order == ["a", "b"]


def test_weights_split_traffic_inside_a_group() -> None:
    model = _model(deployment("heavy", key="k", weight=3), deployment("light", key="k", weight=1))
    rng = random.Random(7)
    firsts = Counter(
        next(plan(model, HealthBoard(), rng=rng))[0].upstream_model for _ in range(4000)
    )
    share = firsts["heavy"] / 4000
    assert 0.70 < share < 0.80


def test_cooling_deployment_goes_to_the_back_and_returns_after_cooldown() -> None:
    clock = Clock()
    board = HealthBoard(cooldown=10, clock=clock)
    model = _model(deployment("a", key="k", priority=0), deployment("b", key="k", priority=1))
    board.failed("dep-a-0")
    assert [d.upstream_model for d, _ in plan(model, board)] == ["b", "a"]
    clock.now += 11
    assert [d.upstream_model for d, _ in plan(model, board)] == ["a", "b"]


def test_retry_after_sets_the_cooldown_and_repeat_failures_back_off() -> None:
    clock = Clock()
    board = HealthBoard(cooldown=1, clock=clock)
    board.failed("x", retry_after=42)
    clock.now += 41
    assert board.cooling("x")
    clock.now += 2
    assert not board.cooling("x")
    board.failed("y")
    board.failed("y")
    board.failed("y")  # third failure: 1 * 2**2 seconds
    clock.now += 3.5
    assert board.cooling("y")
    board.succeeded("y")
    assert not board.cooling("y")
