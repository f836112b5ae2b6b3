"""The replicas cell: Caddy in front of 1, 2 and 3 engine processes, measured in turns.

Each count has its own Caddy (the project's Caddyfile, the engines named in
JUNCTION_ENGINE_UPSTREAMS as `make run` names them) and its own engines, each
a process on its own port; every engine uses the same control plane and the
same Redis. The three take turns in every round, as the main targets do.
Caddy and the engines run free on every core while wrk and the fake upstream
stay on the driver core, so on a two-core machine the replicas share their
cores with each other, with Caddy and with the load: the ratios show what
more engine processes buy here, not what more machines would buy.

Caddy balancing is checked, not assumed: each engine's own count of finished
calls (`junction_engine_calls_total` on its /metrics) is read around every
cell, and a replica that served no call makes the cell invalid.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.bench.cells import SCENARIOS, Scenario
from tests.bench.cores import BOTH_CORES
from tests.bench.deployment import REDIS_URL, Deployment, start_caddy
from tests.bench.measure import Measured, Plan, measure_cell

COUNTS = (1, 2, 3)
# whole answers at two loads, and one streamed cell
CELLS: tuple[tuple[Scenario, int], ...] = (
    (SCENARIOS[0], 16),
    (SCENARIOS[0], 64),
    (SCENARIOS[1], 64),
)
_CALLS = re.compile(r"^junction_engine_calls_total\{[^}]*\} (\S+)$", re.M)


def target_name(count: int) -> str:
    """The target of `count` replicas, as the tables name it."""
    return f"{count} replica" + ("s" if count > 1 else "")


def calls_finished(metrics: str) -> int:
    """Model calls an engine finished, summed over every label, from its /metrics text."""
    return round(sum(float(m.group(1)) for m in _CALLS.finditer(metrics)))


@dataclass(frozen=True, slots=True)
class Balanced:
    """One count of replicas in one cell, with the calls each of its engines finished."""

    row: Measured
    served: tuple[int, ...]  # per engine, over the cell (probe, warm-ups and timed runs)

    @property
    def idle(self) -> list[int]:
        """The replicas (numbered from 1) that served no call."""
        return [n for n, calls in enumerate(self.served, 1) if calls == 0]

    @property
    def problems(self) -> list[str]:
        """Why the row is invalid: the measurement's own problems, or a replica left idle."""
        idle = [f"replica {n} of {len(self.served)} served no call" for n in self.idle]
        return self.row.problems + idle


@dataclass
class Replicas:
    """The cell's rows in the order measured; `note` says how it ran, or why it did not."""

    available: bool
    note: str
    rows: list[Balanced] = field(default_factory=list)

    def ratio(self, row: Balanced) -> float | None:
        """Requests per second of `row` over those of 1 replica in the same cell."""
        one = next(
            (
                r
                for r in self.rows
                if len(r.served) == 1
                and (r.row.scenario, r.row.connections) == (row.row.scenario, row.row.connections)
            ),
            None,
        )
        if one is None or not one.row.rps:
            return None
        return row.row.rps / one.row.rps


def _served(dep: Deployment, engines: list[str]) -> list[int]:
    return [calls_finished(httpx.get(f"{dep.urls[e]}/metrics", timeout=10).text) for e in engines]


def sharing_note(cores: int, most: int = COUNTS[-1]) -> str:
    """What the ratios mean on a machine of `cores` cores."""
    if cores <= most:
        return (
            f"{cores} cores for up to {most} engines, Caddy, wrk, the upstream and the "
            "control plane: the replicas share cores, so a ratio shows what more processes "
            "buy here, not what more machines would"
        )
    return f"{cores} cores, shared by the engines, Caddy, wrk, the upstream and the control plane"


def measure(dep: Deployment, plan: Plan, workdir: Path) -> Replicas:
    """Start every Caddy and engine of the cell, measure them in turns, stop them."""
    started: list[str] = []
    groups: dict[int, list[str]] = {}
    try:
        for count in COUNTS:
            groups[count] = [f"replica-{count}-{n}" for n in range(1, count + 1)]
            for name in groups[count]:
                started.append(name)
                dep.start_engine(name, cores=BOTH_CORES, extra={"JUNCTION_REDIS_URL": REDIS_URL})
            caddy = f"caddy-{count}"
            started.append(caddy)
            start_caddy(dep, caddy, groups[count], cores=BOTH_CORES)
        targets = [
            dep.target(
                target_name(count),
                f"caddy-{count}",
                "gateway",
                f"caddy-{count}",
                *groups[count],
                pinned=False,
            )
            for count in COUNTS
        ]
        engines = [e for count in COUNTS for e in groups[count]]
        out: list[Balanced] = []
        for scenario, connections in CELLS:
            before = dict(zip(engines, _served(dep, engines), strict=True))
            rows = measure_cell(
                scenario,
                connections,
                targets,
                control_pid=dep.control_pid,
                plan=plan,
                script=workdir / "wrk-replicas.lua",
            )
            after = dict(zip(engines, _served(dep, engines), strict=True))
            for count, row in zip(COUNTS, rows, strict=True):
                served = tuple(after[e] - before[e] for e in groups[count])
                out.append(Balanced(row=row, served=served))
        cores = len(os.sched_getaffinity(0))
        return Replicas(available=True, note=sharing_note(cores), rows=out)
    finally:
        for name in reversed(started):
            if name in dep.stack.procs:
                dep.stop_process(name)
