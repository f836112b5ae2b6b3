"""The workers cell: the engine with 1 and with 2 worker processes, free to use both cores.

`JUNCTION_ENGINE_WORKERS` runs N uvicorn workers on one port. Both engines
run unpinned while wrk and the fake upstream stay on the driver core, so on a
two-core machine the second worker shares its core with them: the ratio shows
what a second core buys here, not what it buys on a machine of its own.
When the engine does not honour the variable (no worker processes appear),
the cell says so instead of measuring.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.bench import procstat
from tests.bench.cells import SCENARIOS
from tests.bench.cores import BOTH_CORES
from tests.bench.deployment import Deployment
from tests.bench.measure import Measured, Plan, measure_cell

CONNECTIONS = 64
WORKERS_TIMEOUT = 30.0


@dataclass
class Scale:
    """1 vs 2 workers at 64 connections, non-streaming; `note` says why when not measured."""

    available: bool
    note: str
    rows: list[Measured] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        """Requests per second with 2 workers over those with 1."""
        if len(self.rows) != 2 or not self.rows[0].rps:
            return None
        return self.rows[1].rps / self.rows[0].rps


def _wait_workers(pid: int, want: int) -> int:
    deadline = time.monotonic() + WORKERS_TIMEOUT
    while (found := procstat.worker_count(pid)) < want and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def measure(dep: Deployment, plan: Plan, workdir: Path) -> Scale:
    """Start both engines, measure them in turns, stop them."""
    try:
        dep.start_engine("engine-1w", cores=BOTH_CORES, extra={})
        dep.start_engine("engine-2w", cores=BOTH_CORES, extra={"JUNCTION_ENGINE_WORKERS": "2"})
        workers = _wait_workers(dep.pid("engine-2w"), 2)
        if workers < 2:
            note = f"not available: JUNCTION_ENGINE_WORKERS=2 started {workers} worker processes"
            return Scale(available=False, note=note)
        targets = [
            dep.target("engine-1w", "engine-1w", "gateway", "engine-1w", pinned=False),
            dep.target("engine-2w", "engine-2w", "gateway", "engine-2w", pinned=False),
        ]
        rows = measure_cell(
            SCENARIOS[0],
            CONNECTIONS,
            targets,
            control_pid=dep.control_pid,
            plan=plan,
            script=workdir / "wrk-scale.lua",
        )
        return Scale(available=True, note=f"{workers} worker processes", rows=rows)
    finally:
        for name in ("engine-2w", "engine-1w"):
            if name in dep.stack.procs:
                dep.stop_process(name)
