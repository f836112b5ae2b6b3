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
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from tests.bench import deployment, report
from tests.bench.load import run_cell
from tests.bench.scenarios import SCENARIOS, STREAM_TOKENS, Target, call_for
from tests.support.stack import ROOT


@dataclass(frozen=True, slots=True)
class Plan:
    """How much to measure."""

    concurrency: tuple[int, ...]
    count: int
    warmup: int
    cell_seconds: float
    budget_seconds: float
    scale_out: bool


def _parse(argv: list[str] | None) -> tuple[Plan, Path]:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--concurrency", default="1,32", help="comma-separated levels")
    parser.add_argument("--count", type=int, default=300, help="measured requests per cell")
    parser.add_argument("--warmup", type=int, default=30, help="unmeasured requests per cell")
    parser.add_argument("--cell-seconds", type=float, default=8.0, help="time cap per cell")
    parser.add_argument("--budget", type=float, default=150.0, help="time cap for measuring")
    parser.add_argument("--no-scale-out", action="store_true", help="skip the 2-replica check")
    parser.add_argument("--out", type=Path, default=ROOT / "var/bench/latest.json")
    args = parser.parse_args(argv)
    plan = Plan(
        concurrency=tuple(int(c) for c in args.concurrency.split(",")),
        count=args.count,
        warmup=args.warmup,
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
    # targets interleave inside each (scenario, concurrency) so that the
    # numbers compared with each other are measured minutes apart at most
    for scenario in SCENARIOS:
        for conc in plan.concurrency:
            for target in _targets(dep):
                label = f"{scenario.name}/{target.name}/c{conc}"
                if time.monotonic() > deadline:
                    skipped.append(label)
                    continue
                print(f"  {label}", file=sys.stderr, flush=True)
                samples = await run_cell(
                    call_for(scenario, target),
                    concurrency=conc,
                    count=plan.count,
                    warmup=plan.warmup,
                    time_limit=plan.cell_seconds,
                )
                cells.append(report.summarise(scenario.name, target.name, conc, samples))
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


def _scale_rows(cells: list[report.Cell]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for two in (c for c in cells if c.target == "caddy-2x"):
        one = next(
            (
                c
                for c in cells
                if (c.scenario, c.target, c.concurrency) == (two.scenario, "caddy", two.concurrency)
            ),
            None,
        )
        if one and one.rps:
            rows.append(
                {
                    "scenario": two.scenario,
                    "concurrency": two.concurrency,
                    "rps_2x_vs_1x": two.rps / one.rps,
                    "p50_2x_vs_1x": two.p50 / one.p50,
                }
            )
    return rows


def _print(cells: list[report.Cell], record: dict[str, object], skipped: list[str]) -> None:
    print("\nJunction benchmark: mock LLM direct, minimal proxy, engine, Caddy -> engine")
    print(f"({os.cpu_count()} CPUs, loopback, times in ms; ttfb50 = first body bytes, p50)\n")
    print(report.table(cells))
    print("\nratios (p50 latency and requests/s; engine +us = engine p50 - proxy p50)\n")
    print(report.ratio_table(record["ratios"]))  # type: ignore[arg-type]
    for row in record["conversion"]:  # type: ignore[attr-defined]
        print(
            f"\nconversion (anthropic client -> openai provider vs openai -> openai), "
            f"c{row['concurrency']}: p50 x{row['cross_vs_same_p50']:.2f}, "
            f"{row['conversion_us_p50']:+.0f} us, req/s x{row['cross_vs_same_rps']:.2f}"
        )
    for row in record["scale_out"]:  # type: ignore[attr-defined]
        print(
            f"scale-out {row['scenario']} c{row['concurrency']}: 2 replicas vs 1 behind Caddy "
            f"req/s x{row['rps_2x_vs_1x']:.2f}, p50 x{row['p50_2x_vs_1x']:.2f}"
        )
    for cell in cells:
        if cell.errors:
            print(
                f"errors in {cell.scenario}/{cell.target}/c{cell.concurrency}: {cell.first_error}"
            )
    if skipped:
        print(f"skipped (time budget): {', '.join(skipped)}")


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    # turn `timeout`'s SIGTERM into an exception so the stack is stopped
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 when any request failed."""
    plan, out = _parse(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    with tempfile.TemporaryDirectory(prefix="junction-bench-") as tmp:
        print("starting the stack", file=sys.stderr, flush=True)
        dep = deployment.start(Path(tmp), STREAM_TOKENS)
        skipped: list[str] = []
        try:
            deadline = time.monotonic() + plan.budget_seconds
            cells = asyncio.run(_measure(dep, plan, deadline, skipped))
            if plan.scale_out:
                cells += asyncio.run(_scale_out(dep, plan, deadline, skipped))
        except BaseException:
            print(dep.stack.logs(), file=sys.stderr)
            raise
        finally:
            dep.stop()
    record: dict[str, object] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "plan": {
            "concurrency": list(plan.concurrency),
            "count": plan.count,
            "warmup": plan.warmup,
            "stream_tokens": STREAM_TOKENS,
        },
        "ratios": report.ratios(cells),
        "conversion": report.conversion(cells, "chat-stream", "messages-stream"),
        "scale_out": _scale_rows(cells),
        "skipped": skipped,
    }
    report.write_json(out, record, cells)
    _print(cells, record, skipped)
    print(f"\nwritten: {out}")
    return 1 if any(c.errors for c in cells) else 0


if __name__ == "__main__":
    sys.exit(main())
