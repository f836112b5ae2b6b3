"""`make bench`: the engine against a bare proxy and the upstream direct, measured in one run.

The server under test runs alone on core 0; wrk, the fake upstream and the
control plane run on core 1. Every cell is warmed up, then timed for a fixed
time, the targets taking turns round after round. Prints the tables and the
goals of issue 6 (met / NOT MET) and writes var/bench/latest.json. Exits 1
only when a cell was invalid (errors, cut answers), never for a missed goal.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from tests.bench import deployment, goals, procstat, replicas, report, scale, slow_streams
from tests.bench.cells import SCENARIOS, Scenario, slow_call
from tests.bench.cores import DRIVER_CORE
from tests.bench.database import DEFAULT_URL, bench_database
from tests.bench.goals import FLOOR
from tests.bench.measure import Measured, Plan, measure_all
from tests.support.stack import ROOT

# the upstream direct shows what the client and the fake upstream allow
SLOW_TARGETS = ("direct", "floor-aiohttp", "engine")


@dataclass(frozen=True, slots=True)
class Options:
    """Everything the command line decides."""

    plan: Plan
    scenarios: tuple[Scenario, ...]
    chunks: int
    slow_streams: int
    database_url: str
    control_seconds: float
    usage_calls: int
    workers: bool
    replicas: bool
    out: Path
    #: the targets of the main cells (None: all of them)
    targets: frozenset[str] | None = None


def _parse(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one round of 1 s runs (~3 min)")
    parser.add_argument("--rounds", type=int, help="turns every target takes per cell (3)")
    parser.add_argument("--seconds", type=int, help="timed seconds per turn (3)")
    parser.add_argument("--warmup", type=int, help="unmeasured seconds before each turn (1)")
    parser.add_argument(
        "--scenarios", default=",".join(s.name for s in SCENARIOS), help="comma-separated, or none"
    )
    parser.add_argument("--chunks", type=int, default=50, help="content chunks per stream")
    parser.add_argument("--slow-streams", type=int, default=1000, help="0 skips the cell")
    parser.add_argument("--no-workers", action="store_true", help="skip the 1 vs 2 workers cell")
    parser.add_argument(
        "--no-replicas", action="store_true", help="skip the 1, 2, 3 engines behind Caddy cell"
    )
    parser.add_argument("--control-seconds", type=float, help="control-plane bench, 0 skips it")
    parser.add_argument(
        "--usage-calls", type=int, help="calls loaded for the usage bench (1,000,000), 0 skips it"
    )
    parser.add_argument(
        "--database-url", default=DEFAULT_URL, help="PostgreSQL server, or 'sqlite'"
    )
    parser.add_argument(
        "--targets", help="comma-separated main-cell targets (default all; the floor always runs)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "var/bench/latest.json")
    args = parser.parse_args(argv)
    quick = args.quick
    plan = Plan(
        rounds=max(1, args.rounds or (1 if quick else 3)),
        seconds=max(1, args.seconds or (1 if quick else 3)),
        warmup=max(1, args.warmup or 1),
        settle=1.5,
    )
    control = args.control_seconds
    names = set(args.scenarios.split(","))
    unknown = names - {s.name for s in SCENARIOS} - {"none"}
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return Options(
        plan=plan,
        scenarios=tuple(s for s in SCENARIOS if s.name in names),
        chunks=args.chunks,
        slow_streams=args.slow_streams,
        database_url=args.database_url,
        control_seconds=control if control is not None else (4.0 if quick else 10.0),
        usage_calls=args.usage_calls
        if args.usage_calls is not None
        else (200_000 if quick else 1_000_000),
        workers=not args.no_workers,
        replicas=not args.no_replicas,
        out=args.out,
        targets=frozenset(args.targets.split(",")) | {"direct", FLOOR} if args.targets else None,
    )


def _preflight() -> None:
    missing = [tool for tool in ("wrk", "taskset", "caddy") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"make bench needs {', '.join(missing)} (apt-get install wrk caddy)")
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("make bench needs two CPU cores: one for the server, one for the load")
    # the engine holds two sockets per slow stream; children inherit the limit
    slow_streams.raise_open_files(4096)


def _control_plane(opts: Options, postgres: bool) -> dict[str, Any] | None:
    """The control plane alone (route resolves, ingest), when its bench module is there."""
    if opts.control_seconds <= 0:
        return None
    try:
        from tests.bench import control_plane
    except ImportError as exc:
        return {"error": f"not available: {exc}"}
    print("control plane alone:", file=sys.stderr, flush=True)
    url = opts.database_url if postgres else "sqlite://"
    try:
        return dict(control_plane.run(url, seconds=opts.control_seconds))
    except Exception as exc:  # someone else's module: report its failure, do not hide it
        return {"error": f"failed: {exc!r}"}


def _usage_scale(opts: Options, postgres: bool) -> dict[str, Any] | None:
    """The usage endpoint over many calls (tests/bench/usage_scale.py), on PostgreSQL only."""
    if opts.usage_calls <= 0:
        return None
    if not postgres:
        return {"note": "skipped: the usage bench loads its calls into PostgreSQL"}
    from tests.bench import usage_scale

    print(f"usage over {opts.usage_calls:,} calls:", file=sys.stderr, flush=True)
    requests = 10 if opts.plan.rounds == 1 else usage_scale.REQUESTS
    try:
        return usage_scale.run(opts.database_url, calls=opts.usage_calls, requests=requests)
    except Exception as exc:  # report the cell's failure, do not hide it or lose the others
        return {"error": f"failed: {exc!r}"}


def _usage_summary(usage: dict[str, Any]) -> str:
    if "usage_worst_p95_ms" not in usage:
        return f"usage: {usage}"
    from tests.bench import usage_scale

    return usage_scale.summary(usage)


def _version(cmd: list[str]) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=10)
    return (done.stdout or done.stderr).strip().splitlines()[0] if done.returncode == 0 else ""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    # turn `timeout`'s SIGTERM into an exception so every process is stopped
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 when any cell was invalid."""
    opts = _parse(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    _preflight()
    # the processes' files and logs stay in var/bench/stack until the next run
    # resolved: the processes run in other directories
    workdir = opts.out.resolve().parent / "stack"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    started, load_before = time.monotonic(), os.getloadavg()
    slow: dict[str, slow_streams.Slow] = {}
    with (
        bench_database(opts.database_url) as database_url,
        # Redis off the server's core, as the database's backends (`cores`)
        procstat.service_pinned("redis-server", DRIVER_CORE),
    ):
        print(f"starting the processes in {workdir}", file=sys.stderr, flush=True)
        dep = deployment.start(workdir, opts.chunks, database_url)
        try:
            targets = [t for t in dep.targets() if opts.targets is None or t.name in opts.targets]
            rows: list[Measured] = measure_all(
                opts.scenarios,
                targets,
                control_pid=dep.control_pid,
                plan=opts.plan,
                workdir=workdir,
            )
            if opts.slow_streams:
                for target in (t for t in targets if t.name in SLOW_TARGETS):
                    print(f"  slow streams: {target.name}", file=sys.stderr, flush=True)
                    call = slow_call(target)
                    slow[target.name] = slow_streams.measure(
                        target, call, opts.slow_streams, workdir
                    )
            workers = (
                scale.measure(dep, opts.plan, workdir)
                if opts.workers
                else scale.Scale(available=False, note="skipped (--no-workers)")
            )
            behind_caddy = (
                replicas.measure(dep, opts.plan, workdir)
                if opts.replicas
                else replicas.Replicas(available=False, note="skipped (--no-replicas)")
            )
        except BaseException:
            print(dep.stack.logs(), file=sys.stderr)
            raise
        finally:
            dep.stop()
    control = _control_plane(opts, postgres=database_url is not None)
    usage = _usage_scale(opts, postgres=database_url is not None)
    index = goals.Rows(rows)
    figures = {k: v for k, v in (control or {}).items() if isinstance(v, int | float)}
    checked = goals.throughput_goals(index) + goals.slow_goals(slow) + goals.control_goals(figures)
    checked += goals.usage_goals(usage)
    invalid = [
        f"{r.scenario} c={r.connections} {r.target}" for r in rows + workers.rows if r.problems
    ]
    invalid += [
        f"{r.row.scenario} c={r.row.connections} {r.row.target}"
        for r in behind_caddy.rows
        if r.problems
    ]
    invalid += [f"slow streams {s.target}" for s in slow.values() if s.completed < s.streams]
    if control and "error" in control:
        invalid.append(f"control plane: {control['error']}")
    if usage and "error" in usage:
        invalid.append(f"usage: {usage['error']}")
    elif usage and usage.get("usage_matches_raw") == 0:
        invalid.append("usage: the totals from the rollups differ from the raw calls'")
    record: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "kernel": platform.release(),
            "wrk": _version(["wrk", "--version"]),
            "load_before": load_before,
            "load_after": os.getloadavg(),
        },
        "plan": {
            "rounds": opts.plan.rounds,
            "seconds": opts.plan.seconds,
            "warmup": opts.plan.warmup,
            "chunks": opts.chunks,
            "slow_streams": opts.slow_streams,
            "database": "postgresql" if database_url else "sqlite",
        },
        "wall_seconds": time.monotonic() - started,
        "slow_streams": {k: slow_streams.as_record(v) for k, v in slow.items()},
        "control_plane": control,
        "usage_scale": usage,
        "goals": [
            {"name": g.name, "value": g.value, "want": g.want, "met": g.met} for g in checked
        ],
        "invalid": invalid,
    }
    report.write_json(opts.out, record, rows, workers, behind_caddy)
    print(report.render_cells(rows))
    if slow:
        print("\nslow streams (a chunk every 100 ms for 10 s):\n" + report.render_slow(slow))
    print("\n" + report.render_scale(workers))
    print("\n" + report.render_replicas(behind_caddy))
    if control:
        print(f"\ncontrol plane alone: {control}")
    if usage:
        print("\n" + _usage_summary(usage))
    print("\ngoals (issue 6):\n" + report.render_goals(checked))
    if invalid:
        print("\nINVALID: " + "; ".join(invalid))
    print(f"\nwritten: {opts.out} ({record['wall_seconds'] / 60:.1f} min)")
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main())
