"""The targets of issue 6 (item 2), each checked as a ratio within this one run.

A goal that spans several cells is judged on its worst cell and names it. A
goal resting on an invalid cell (errors, cut answers) is not met, whatever
its number says. Targets are reported, never enforced: `make bench` fails
only on invalid cells.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tests.bench.measure import Measured
from tests.bench.slow_streams import Slow

FLOOR = "floor-aiohttp"
ENGINES = ("engine", "engine+redis")
PLAIN = (("chat", 1), ("chat", 16), ("chat", 64), ("chat-stream", 16), ("chat-stream", 64))
CROSS = (("cross-stream", 16), ("cross-stream", 64))
WHOLE = (("chat", 1), ("chat", 16), ("chat", 64))
STREAMED = (("chat-stream", 16), ("chat-stream", 64), *CROSS)
EVERY = PLAIN + CROSS


@dataclass(frozen=True, slots=True)
class Goal:
    """One target: what was measured, what was wanted, and whether it was met (None: unmeasured)."""

    name: str
    value: str
    want: str
    met: bool | None


class Rows:
    """The measured rows, found by scenario, connections and target."""

    def __init__(self, rows: Iterable[Measured]) -> None:
        self._by = {(r.scenario, r.connections, r.target): r for r in rows}

    def get(self, scenario: str, connections: int, target: str) -> Measured | None:
        """The row of one target in one cell, if measured."""
        return self._by.get((scenario, connections, target))


def _rps(engine: Measured, reference: Measured) -> float:
    return engine.rps / reference.rps if reference.rps else math.nan


def _headroom(engine: Measured, reference: Measured) -> float:
    return reference.rps / engine.rps if engine.rps else math.nan


def _p50_gap(engine: Measured, reference: Measured) -> float:
    return engine.p50 - reference.p50


def _cpu(engine: Measured, reference: Measured) -> float:
    ref = reference.cpu_ms_per_request
    return engine.cpu_ms_per_request / ref if ref else math.nan


def _control(engine: Measured, _: Measured) -> float:
    if engine.control_ms_per_call is None or not engine.cpu_ms_per_request:
        return math.nan
    return engine.control_ms_per_call / engine.cpu_ms_per_request


@dataclass(frozen=True, slots=True)
class Ratio:
    """A goal on `measure(engine row, reference row)` over `cells`; the worst cell decides.

    ``{engine}`` in the name stands for the engine variant judged.
    """

    name: str
    want: str
    cells: tuple[tuple[str, int], ...]
    reference: str
    measure: Callable[[Measured, Measured], float]
    at_least: float | None = None
    at_most: float | None = None
    unit: str = "%"

    def judge(self, rows: Rows, engine: str) -> Goal:
        """The goal for one engine variant."""
        name = self.name.format(engine=engine)
        found: list[tuple[float, str]] = []
        invalid: list[str] = []
        bound: list[str] = []
        for scenario, conns in self.cells:
            mine, ref = rows.get(scenario, conns, engine), rows.get(scenario, conns, self.reference)
            if mine is None or ref is None:
                continue
            label = f"{scenario} c={conns}"
            if mine.problems or ref.problems:
                invalid.append(label)
            if ref.kind == "floor" and ref.driver_bound:
                bound.append(label)
            value = self.measure(mine, ref)
            if not math.isnan(value):
                found.append((value, label))
        if not found:
            return Goal(name, "not measured", self.want, None)
        value, label = min(found) if self.at_least is not None else max(found)
        shown = f"{value * 100:.0f} %" if self.unit == "%" else f"{value:.2f}{self.unit}"
        text = f"worst {shown} ({label})"
        met = (self.at_least is None or value >= self.at_least) and (
            self.at_most is None or value <= self.at_most
        )
        if invalid:
            text += f"; invalid cells: {', '.join(invalid)}"
        if bound:
            text += f"; {self.reference} driver-bound in: {', '.join(bound)}"
        return Goal(name, text, self.want, met and not invalid)


RATIOS = (
    Ratio(
        "{engine} req/s vs floor, whole and same-protocol streams",
        ">= 70 %",
        PLAIN,
        FLOOR,
        _rps,
        at_least=0.70,
    ),
    Ratio(
        "{engine} req/s vs floor, cross-protocol streams",
        ">= 50 %",
        CROSS,
        FLOOR,
        _rps,
        at_least=0.50,
    ),
    Ratio(
        "{engine} p50 at c=1 over the floor's",
        "<= 0.30 ms",
        (("chat", 1),),
        FLOOR,
        _p50_gap,
        at_most=0.30,
        unit=" ms",
    ),
    Ratio(
        "{engine} CPU per request vs floor", "<= 1.5x", EVERY, FLOOR, _cpu, at_most=1.5, unit="x"
    ),
    Ratio(
        "{engine} control-plane CPU per call vs its CPU per request",
        "<= 10 %",
        EVERY,
        FLOOR,
        _control,
        at_most=0.10,
    ),
    # the proof that the driver core is not what limits the engine
    Ratio(
        "upstream direct vs {engine} req/s, whole answers",
        ">= 10x",
        WHOLE,
        "direct",
        _headroom,
        at_least=10.0,
        unit="x",
    ),
    Ratio(
        "upstream direct vs {engine} req/s, streams",
        ">= 10x",
        STREAMED,
        "direct",
        _headroom,
        at_least=10.0,
        unit="x",
    ),
)


# the per-call log line is cheap enough to leave on: no measurable loss
CALL_LOG = Ratio(
    "{engine} (per-call JSON log line) req/s vs the engine without it",
    ">= 95 %",
    EVERY,
    "engine",
    _rps,
    at_least=0.95,
)


def _scaling(rows: Rows, engine: str) -> Goal:
    """The engine's rate at 64 connections against its rate at 16, worst scenario."""
    name = f"{engine} req/s at c=64 vs at c=16"
    found: list[tuple[float, str]] = []
    for scenario in ("chat", "chat-stream", "cross-stream"):
        r64, r16 = rows.get(scenario, 64, engine), rows.get(scenario, 16, engine)
        if r64 and r16 and r16.rps:
            found.append((r64.rps / r16.rps, scenario))
    if not found:
        return Goal(name, "not measured", ">= 100 %", None)
    value, scenario = min(found)
    return Goal(name, f"worst {value * 100:.0f} % ({scenario})", ">= 100 %", value >= 1.0)


def throughput_goals(rows: Rows) -> list[Goal]:
    """Every ratio goal and the scaling goal, for each engine variant."""
    goals: list[Goal] = []
    for engine in ENGINES:
        goals += [ratio.judge(rows, engine) for ratio in RATIOS]
        goals.append(_scaling(rows, engine))
    goals.append(CALL_LOG.judge(rows, "engine+log"))
    return goals


def slow_goals(slow: dict[str, Slow]) -> list[Goal]:
    """1,000 slow streams through the engine, against the floor."""
    engine, floor = slow.get("engine"), slow.get(FLOOR)
    if engine is None:
        return [Goal("slow streams", "not measured", "", None)]
    done = engine.completed == engine.streams and engine.duration_max <= 11.0
    goals = [
        Goal(
            f"engine: {engine.streams} slow streams complete within 11 s",
            f"{engine.completed}/{engine.streams}, longest {engine.duration_max:.2f} s",
            "all, <= 11 s",
            done,
        ),
        Goal(
            "engine RSS with the slow streams",
            f"{engine.rss_mb:.0f} MB",
            "<= 200 MB",
            engine.rss_mb <= 200,
        ),
    ]
    if floor is not None:
        gap = engine.first_byte_p50 - floor.first_byte_p50
        goals.append(
            Goal(
                "engine first-byte p50 over the floor's (slow streams)",
                f"{gap:+.3f} s ({engine.first_byte_p50:.3f} vs {floor.first_byte_p50:.3f})",
                "<= 0.30 s",
                gap <= 0.3,
            )
        )
    return goals


def control_goals(figures: dict[str, float] | None) -> list[Goal]:
    """The control plane alone (tests/bench/control_plane.py), when it ran."""
    if not figures:
        return []
    goals: list[Goal] = []
    if "resolves_per_s" in figures:
        value = figures["resolves_per_s"]
        goals.append(
            Goal(
                "control: route resolves on a cache miss",
                f"{value:,.0f}/s",
                ">= 1,000/s",
                value >= 1000,
            )
        )
    if "events_per_s" in figures:
        value = figures["events_per_s"]
        goals.append(
            Goal(
                "control: telemetry events ingested", f"{value:,.0f}/s", ">= 5,000/s", value >= 5000
            )
        )
    return goals


def usage_goals(usage: dict[str, Any] | None) -> list[Goal]:
    """The usage endpoint over many calls (tests/bench/usage_scale.py), when it ran (issue 7)."""
    if not usage or "usage_worst_p95_ms" not in usage:
        return []
    ranges = {"30d": "30 days", "90d": "90 days", "90d_partial": "90 days, partial hours"}
    worst, name = max((usage[f"usage_{key}_p95_ms"], text) for key, text in ranges.items())
    matches = bool(usage.get("usage_matches_raw"))
    value = f"worst p95 {worst:.1f} ms ({name})" + ("" if matches else "; differs from raw calls")
    return [
        Goal(
            f"usage: /api/v1/usage over {usage['usage_calls']:,.0f} calls on PostgreSQL",
            value,
            "<= 200 ms",
            worst <= 200.0 and matches,
        )
    ]
