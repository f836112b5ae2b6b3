"""Summaries of the measured cells: the table, the ratios, and the JSON record."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tests.bench.load import Samples


@dataclass(frozen=True, slots=True)
class Cell:
    """One scenario against one target at one concurrency, summarised (times in ms)."""

    scenario: str
    target: str
    concurrency: int
    requests: int
    errors: int
    rps: float
    p50: float
    p95: float
    p99: float
    ttfb_p50: float
    first_error: str = ""


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile `q` (0-100) of `values`; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summarise(scenario: str, target: str, concurrency: int, samples: Samples) -> Cell:
    """The cell's throughput and latency percentiles, in requests/s and milliseconds."""
    return Cell(
        scenario=scenario,
        target=target,
        concurrency=concurrency,
        requests=samples.count,
        errors=samples.errors,
        rps=samples.count / samples.wall if samples.wall else 0.0,
        p50=percentile(samples.total, 50) * 1000,
        p95=percentile(samples.total, 95) * 1000,
        p99=percentile(samples.total, 99) * 1000,
        ttfb_p50=percentile(samples.ttfb, 50) * 1000,
        first_error=samples.first_error,
    )


def _div(a: float, b: float) -> float:
    return a / b if b else math.nan


def _find(cells: list[Cell], scenario: str, target: str, concurrency: int) -> Cell | None:
    for cell in cells:
        if (cell.scenario, cell.target, cell.concurrency) == (scenario, target, concurrency):
            return cell
    return None


def ratios(cells: list[Cell]) -> list[dict[str, Any]]:
    """Per scenario and concurrency: the gateway against the direct upstream and the proxy."""
    rows: list[dict[str, Any]] = []
    keys = dict.fromkeys((c.scenario, c.concurrency) for c in cells)
    for scenario, conc in keys:
        direct = _find(cells, scenario, "direct", conc)
        proxy = _find(cells, scenario, "proxy", conc)
        engine = _find(cells, scenario, "engine", conc)
        caddy = _find(cells, scenario, "caddy", conc)
        if not (direct and proxy and engine):
            continue
        row: dict[str, Any] = {
            "scenario": scenario,
            "concurrency": conc,
            "engine_vs_direct_p50": _div(engine.p50, direct.p50),
            "engine_vs_proxy_p50": _div(engine.p50, proxy.p50),
            "engine_vs_direct_rps": _div(engine.rps, direct.rps),
            "engine_vs_proxy_rps": _div(engine.rps, proxy.rps),
            "engine_overhead_us_p50": (engine.p50 - proxy.p50) * 1000,
            "caddy_overhead_ms_p50": (caddy.p50 - engine.p50) if caddy else math.nan,
        }
        rows.append(row)
    return rows


def conversion(cells: list[Cell], same: str, cross: str) -> list[dict[str, Any]]:
    """The cost of protocol conversion: the engine's cross stream against its same-protocol one."""
    rows: list[dict[str, Any]] = []
    for conc in dict.fromkeys(c.concurrency for c in cells):
        a = _find(cells, same, "engine", conc)
        b = _find(cells, cross, "engine", conc)
        if a and b:
            rows.append(
                {
                    "concurrency": conc,
                    "cross_vs_same_p50": _div(b.p50, a.p50),
                    "conversion_us_p50": (b.p50 - a.p50) * 1000,
                    "cross_vs_same_rps": _div(b.rps, a.rps),
                }
            )
    return rows


def table(cells: list[Cell]) -> str:
    """The cells as a fixed-width text table."""
    head = (
        f"{'scenario':<16}{'target':<12}{'conc':>5}{'n':>6}{'err':>5}{'req/s':>9}"
        f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'ttfb50':>9}"
    )
    lines = [head, "-" * len(head)]
    for c in cells:
        lines.append(
            f"{c.scenario:<16}{c.target:<12}{c.concurrency:>5}{c.requests:>6}{c.errors:>5}"
            f"{c.rps:>9.0f}{c.p50:>9.2f}{c.p95:>9.2f}{c.p99:>9.2f}{c.ttfb_p50:>9.2f}"
        )
    return "\n".join(lines)


def ratio_table(rows: list[dict[str, Any]]) -> str:
    """The ratios as a fixed-width text table."""
    head = (
        f"{'scenario':<16}{'conc':>5}{'eng/direct':>11}{'eng/proxy':>10}{'rps e/d':>9}"
        f"{'rps e/p':>9}{'engine +us':>11}{'caddy +ms':>10}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['scenario']:<16}{r['concurrency']:>5}{r['engine_vs_direct_p50']:>11.2f}"
            f"{r['engine_vs_proxy_p50']:>10.2f}{r['engine_vs_direct_rps']:>9.2f}"
            f"{r['engine_vs_proxy_rps']:>9.2f}{r['engine_overhead_us_p50']:>11.0f}"
            f"{r['caddy_overhead_ms_p50']:>10.2f}"
        )
    return "\n".join(lines)


def scale_out(cells: list[Cell]) -> list[dict[str, Any]]:
    """Caddy in front of two replicas against Caddy in front of one, where both were measured."""
    rows: list[dict[str, Any]] = []
    for two in (c for c in cells if c.target == "caddy-2x"):
        one = _find(cells, two.scenario, "caddy", two.concurrency)
        if one:
            rows.append(
                {
                    "scenario": two.scenario,
                    "concurrency": two.concurrency,
                    "rps_2x_vs_1x": _div(two.rps, one.rps),
                    "p50_2x_vs_1x": _div(two.p50, one.p50),
                }
            )
    return rows


def summary(cells: list[Cell], *, same: str, cross: str) -> dict[str, Any]:
    """Every derived number of the run; `engine_overhead_us` is the one tracked over time."""
    rows = ratios(cells)
    low = min((c.concurrency for c in cells), default=1)
    return {
        # engine p50 minus proxy p50 at the lowest concurrency, where queueing
        # does not blur it: what the gateway adds to one request
        "engine_overhead_us": {
            r["scenario"]: round(r["engine_overhead_us_p50"])
            for r in rows
            if r["concurrency"] == low and not math.isnan(r["engine_overhead_us_p50"])
        },
        "ratios": rows,
        "conversion": conversion(cells, same, cross),
        "scale_out": scale_out(cells),
    }


def render(cells: list[Cell], summary: dict[str, Any], skipped: list[str]) -> str:
    """The text report: cells, ratios, conversion and scale-out lines, failures."""
    out = [
        "",
        "Junction benchmark: mock LLM direct, minimal proxy, engine, Caddy -> engine",
        "(loopback; times in ms; ttfb50 = p50 time to the first body bytes)",
        "",
        table(cells),
        "",
        "ratios (p50 latency and req/s; engine +us = engine p50 - proxy p50; "
        "caddy +ms = caddy p50 - engine p50)",
        "",
        ratio_table(summary["ratios"]),
        "",
    ]
    for row in summary["conversion"]:
        out.append(
            f"conversion c{row['concurrency']} (anthropic client -> openai provider, against "
            f"openai -> openai): p50 x{row['cross_vs_same_p50']:.2f} "
            f"({row['conversion_us_p50']:+.0f} us), req/s x{row['cross_vs_same_rps']:.2f}"
        )
    for row in summary["scale_out"]:
        out.append(
            f"scale-out {row['scenario']} c{row['concurrency']} (Caddy -> 2 engines, against 1): "
            f"req/s x{row['rps_2x_vs_1x']:.2f}, p50 x{row['p50_2x_vs_1x']:.2f}"
        )
    overhead = ", ".join(f"{k} {v} us" for k, v in summary["engine_overhead_us"].items())
    out.append(f"engine overhead per request (p50, against the proxy): {overhead}")
    out += [
        f"errors in {c.scenario}/{c.target}/c{c.concurrency}: {c.errors}, first: {c.first_error}"
        for c in cells
        if c.errors
    ]
    if skipped:
        out.append(f"skipped (time budget): {', '.join(skipped)}")
    return "\n".join(out)


def write_json(path: Path, record: dict[str, Any], cells: list[Cell]) -> None:
    """Write the run's record, cells included, to `path` (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = record | {"cells": [asdict(c) for c in cells]}
    # NaN is not JSON: an unmeasured value is null
    text = json.dumps(_json_ready(data), indent=2)
    path.write_text(text + "\n", encoding="utf-8")


def _json_ready(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    return value
