"""The main cells: every target takes its turn in each round, warmed up, then timed.

Targets are interleaved, each round in the reverse order of the one before
(round 1: A B C …, round 2: … C B A), so that a load passing over the
machine, or a drift of its speed over the cell, weighs on all of them alike. Around each timed run
the server's CPU time and peak RSS are read from /proc; the control plane's
CPU time is read over the whole cell (after a pause that lets the last
telemetry batch land, and until the control plane is idle: it runs behind
the driver, see `cores`) and shared out over every gateway call of the
cell, warm-ups included, since those were ingested too.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.bench import logs, procstat, wrk
from tests.bench.cells import Scenario, Target, call_for
from tests.bench.cores import DRIVER_CORE, SERVER_CORE
from tests.bench.database import DATABASE_MARK

SHORT_ANSWERS = 0.9  # fewer bytes per answer than this share of the probe's: answers were cut
DRIVER_BOUND = 0.95  # the driver core this busy: the target may be faster than measured
SHARED = 0.10  # this much of the server core used by other processes: the machine was not quiet


@dataclass(frozen=True, slots=True)
class Plan:
    """How long each timed run, warm-up and telemetry pause lasts, and how many rounds.

    wrk takes whole seconds only.
    """

    rounds: int
    seconds: int
    warmup: int
    settle: float


@dataclass
class Measured:
    """One target in one cell, over all rounds (times in ms)."""

    scenario: str
    connections: int
    target: str
    kind: str
    probe: wrk.Probe
    runs: list[wrk.Run] = field(default_factory=list)
    cpu_seconds: float = 0.0
    rss_mb: float = 0.0
    control_ms_per_call: float | None = None
    server_busy: list[float] = field(default_factory=list)
    driver_busy: list[float] = field(default_factory=list)
    others_on_server: list[float] = field(default_factory=list)
    log_warnings: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        """Completed requests of the timed runs."""
        return sum(r.requests for r in self.runs)

    @property
    def rps(self) -> float:
        """Requests per second over all timed runs."""
        seconds = sum(r.seconds for r in self.runs)
        return self.requests / seconds if seconds else 0.0

    @property
    def p50(self) -> float:
        """The median of the rounds' median latencies."""
        return statistics.median(r.p50 for r in self.runs) if self.runs else float("nan")

    @property
    def p99(self) -> float:
        """The median of the rounds' 99th-percentile latencies."""
        return statistics.median(r.p99 for r in self.runs) if self.runs else float("nan")

    @property
    def errors(self) -> int:
        """Failed requests of the timed runs, as wrk counts them."""
        return sum(r.error_count for r in self.runs)

    @property
    def cpu_ms_per_request(self) -> float:
        """Server CPU time per completed request."""
        return self.cpu_seconds * 1000 / self.requests if self.requests else float("nan")

    @property
    def bytes_per_request(self) -> float:
        """Bytes wrk read per completed request."""
        read = sum(r.bytes for r in self.runs)
        return read / self.requests if self.requests else 0.0

    @property
    def server_core(self) -> float:
        """How busy the server core was during the timed runs, 0 to 1 (mean of the rounds)."""
        return statistics.fmean(self.server_busy) if self.server_busy else float("nan")

    @property
    def driver_core(self) -> float:
        """How busy the driver core (wrk, upstream, control plane) was, 0 to 1."""
        return statistics.fmean(self.driver_busy) if self.driver_busy else float("nan")

    @property
    def others_on_server_core(self) -> float | None:
        """Share of the server core used by processes other than the target (pinned targets)."""
        return statistics.fmean(self.others_on_server) if self.others_on_server else None

    @property
    def driver_bound(self) -> bool:
        """Whether the driver core, not the target, may have set the pace."""
        return self.driver_core >= DRIVER_BOUND

    @property
    def problems(self) -> list[str]:
        """Why the cell is invalid; empty when it is valid."""
        found = [f"probe: {self.probe.problem}"] if self.probe.problem else []
        if self.errors:
            kinds = {k: sum(r.errors[k] for r in self.runs) for k in wrk.ERROR_KINDS}
            found.append("errors: " + ", ".join(f"{k} {n}" for k, n in kinds.items() if n))
        if not self.requests:
            found.append("no request completed")
        elif self.bytes_per_request < SHORT_ANSWERS * self.probe.bytes:
            found.append(
                f"short answers: {self.bytes_per_request:.0f} bytes each, "
                f"the probe read {self.probe.bytes}"
            )
        return found


def _timed_turn(
    row: Measured, target: Target, call: wrk.Call, plan: Plan, script: Path, connections: int
) -> wrk.Run:
    """One timed wrk run on `target`, with the /proc readings around it folded into `row`."""
    procstat.reset_peak_rss(target.pids)
    log_sizes = logs.sizes(target.logs)
    cpu_before, cores_before = procstat.cpu_seconds(target.pids), procstat.core_ticks()
    timed = wrk.run(call, script, connections=connections, seconds=plan.seconds, core=DRIVER_CORE)
    spent, cores_after = procstat.cpu_seconds(target.pids) - cpu_before, procstat.core_ticks()
    server = procstat.busy_share(cores_before, cores_after, SERVER_CORE)
    row.cpu_seconds += spent
    row.server_busy.append(server)
    row.driver_busy.append(procstat.busy_share(cores_before, cores_after, DRIVER_CORE))
    if target.pinned and target.kind != "upstream" and timed.seconds:
        row.others_on_server.append(max(0.0, server - spent / timed.seconds))
    row.rss_mb = max(row.rss_mb, procstat.peak_rss_mb(target.pids))
    row.log_warnings += logs.warnings_since(log_sizes)
    row.runs.append(timed)
    return timed


def measure_cell(
    scenario: Scenario,
    connections: int,
    targets: list[Target],
    *,
    control_pid: int,
    plan: Plan,
    script: Path,
) -> list[Measured]:
    """Measure one cell on every target; rows in the order of `targets`."""
    rows = {
        t.name: Measured(
            scenario.name, connections, t.name, t.kind, wrk.probe(call_for(scenario, t))
        )
        for t in targets
    }
    # the database's backends off the server's core (see `cores`)
    procstat.pin_database_backends(DATABASE_MARK, DRIVER_CORE)
    control_before = procstat.cpu_seconds([control_pid])
    gateway_calls = 0
    for turn in range(plan.rounds):
        # A B C, then C B A: a drift of the machine over the cell (a table that
        # grows, a neighbour) weighs on every target alike, not on the last ones
        for target in targets if turn % 2 == 0 else targets[::-1]:
            call = call_for(scenario, target)
            warm = wrk.run(
                call, script, connections=connections, seconds=plan.warmup, core=DRIVER_CORE
            )
            row = rows[target.name]
            timed = _timed_turn(row, target, call, plan, script, connections)
            if target.gateway:
                gateway_calls += warm.requests + timed.requests
    time.sleep(plan.settle)  # the engines send telemetry in batches, once a second at most
    procstat.wait_idle([control_pid])  # and the control plane has taken in what it got
    control_ms = (procstat.cpu_seconds([control_pid]) - control_before) * 1000
    for target in targets:
        if target.gateway and gateway_calls:
            rows[target.name].control_ms_per_call = control_ms / gateway_calls
    line = "  ".join(f"{r.target} {r.rps:,.0f}/s" for r in rows.values())
    print(f"  {scenario.name} c={connections}: {line}", file=sys.stderr, flush=True)
    return list(rows.values())


def measure_all(
    scenarios: tuple[Scenario, ...],
    targets: list[Target],
    *,
    control_pid: int,
    plan: Plan,
    workdir: Path,
) -> list[Measured]:
    """Every cell of `scenarios` on every target."""
    out: list[Measured] = []
    script = workdir / "wrk-request.lua"
    for scenario in scenarios:
        for connections in scenario.connections:
            out += measure_cell(
                scenario, connections, targets, control_pid=control_pid, plan=plan, script=script
            )
    return out
