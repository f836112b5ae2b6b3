"""`make bench`: the gateway against a minimal proxy and the upstream direct, in one run.

Starts the real stack on free ports (mock LLM, control, one engine, Caddy)
plus the minimal proxy, drives every scenario against every target at each
concurrency, prints the table and the ratios, and writes var/bench/latest.json.
Bounded in requests per cell, in seconds per cell and for the whole run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from tests.bench import deployment, report
from tests.bench.load import Samples, run_cell
from tests.bench.scenarios import SCENARIOS, STREAM_TOKENS, Target, call_for
from tests.support.stack import ROOT


@dataclass(frozen=True, slots=True)
class Plan:
    """How much to measure."""

    concurrency: tuple[int, ...]
    count: int
    warmup: int
    rounds: int
    cell_seconds: float
    budget_seconds: float
    scale_out: bool


def _parse(argv: list[str] | None) -> tuple[Plan, Path]:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--concurrency", default="1,32", help="comma-separated levels")
    parser.add_argument("--count", type=int, default=600, help="measured requests per cell")
    parser.add_argument("--warmup", type=int, default=30, help="unmeasured requests per round")
    parser.add_argument("--rounds", type=int, default=3, help="turns the targets take per cell")
    parser.add_argument("--cell-seconds", type=float, default=8.0, help="time cap per cell")
    parser.add_argument("--budget", type=float, default=150.0, help="time cap for measuring")
    parser.add_argument("--no-scale-out", action="store_true", help="skip the 2-replica check")
    parser.add_argument("--out", type=Path, default=ROOT / "var/bench/latest.json")
    args = parser.parse_args(argv)
    plan = Plan(
        concurrency=tuple(int(c) for c in args.concurrency.split(",")),
        count=args.count,
        warmup=args.warmup,
        rounds=max(1, args.rounds),
        cell_seconds=args.cell_seconds,
        budget_seconds=args.budget,
        scale_out=not args.no_scale_out,
    )
    return plan, args.out


def _targets(dep: deployment.Deployment) -> list[Target]:
    stack = dep.stack
    return [
        Target("direct", stack.mock_url, stack.mock_key, gateway=False),
        Target("proxy", dep.proxy_url, stack.mock_key, gateway=False),
        Target("engine", dep.engine_url(0), stack.demo_token, gateway=True),
        Target("caddy", stack.public_url, stack.demo_token, gateway=True),
    ]


async def _measure(
    dep: deployment.Deployment, plan: Plan, deadline: float, skipped: list[str]
) -> list[report.Cell]:
    cells: list[report.Cell] = []
    targets = _targets(dep)
    for scenario in SCENARIOS:
        for conc in plan.concurrency:
            label = f"{scenario.name}/c{conc}"
            if time.monotonic() > deadline:
                skipped.append(label)
                continue
            print(f"  {label}", file=sys.stderr, flush=True)
            merged = {t.name: Samples() for t in targets}
            # targets take turns, a slice of each cell per round, so that a
            # passing load on the machine weighs on all of them alike
            for _ in range(plan.rounds):
                for target in targets:
                    merged[target.name].add(
                        await run_cell(
                            call_for(scenario, target),
                            concurrency=conc,
                            count=plan.count // plan.rounds,
                            warmup=plan.warmup,
                            time_limit=plan.cell_seconds / plan.rounds,
                        )
                    )
            cells += [report.summarise(scenario.name, n, conc, s) for n, s in merged.items()]
    return cells


async def _scale_out(
    dep: deployment.Deployment, plan: Plan, deadline: float, skipped: list[str]
) -> list[report.Cell]:
    """Caddy in front of two engine replicas, at the highest concurrency."""
    conc = max(plan.concurrency)
    if time.monotonic() > deadline:
        skipped.append("scale-out")
        return []
    print("  scale-out: starting a second engine replica", file=sys.stderr, flush=True)
    dep.scale_engines(2)
    target = Target("caddy-2x", dep.stack.public_url, dep.stack.demo_token, gateway=True)
    cells: list[report.Cell] = []
    for scenario in SCENARIOS[:2]:
        samples = await run_cell(
            call_for(scenario, target),
            concurrency=conc,
            count=plan.count,
            warmup=plan.warmup,
            time_limit=plan.cell_seconds,
        )
        cells.append(report.summarise(scenario.name, target.name, conc, samples))
    return cells


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    # turn `timeout`'s SIGTERM into an exception so the stack is stopped
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 when any request failed."""
    plan, out = _parse(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    # the stack's files and process logs stay in var/bench/stack until the next run
    workdir = out.parent / "stack"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    print(f"starting the stack in {workdir}", file=sys.stderr, flush=True)
    dep = deployment.start(workdir, STREAM_TOKENS)
    skipped: list[str] = []
    try:
        deadline = time.monotonic() + plan.budget_seconds
        cells = asyncio.run(_measure(dep, plan, deadline, skipped))
        if plan.scale_out:
            cells += asyncio.run(_scale_out(dep, plan, deadline, skipped))
    except Exception:
        print(dep.stack.logs(), file=sys.stderr)
        raise
    finally:
        dep.stop()
    summary = report.summary(cells, same="chat-stream", cross="messages-stream")
    plan_record = {
        "concurrency": list(plan.concurrency),
        "count": plan.count,
        "warmup": plan.warmup,
        "rounds": plan.rounds,
        "stream_tokens": STREAM_TOKENS,
    }
    record: dict[str, object] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "plan": plan_record,
        **summary,
        "skipped": skipped,
    }
    report.write_json(out, record, cells)
    print(report.render(cells, summary, skipped))
    print(f"\nwritten: {out}")
    return 1 if any(c.errors for c in cells) else 0


if __name__ == "__main__":
    sys.exit(main())
