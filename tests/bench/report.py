"""The report: a table per part of the run, the goals with met / NOT MET, and the JSON record."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tests.bench.cells import SLOW_EVENTS
from tests.bench.goals import FLOOR, Goal, Rows
from tests.bench.measure import SHARED, Measured
from tests.bench.replicas import Balanced, Replicas
from tests.bench.scale import Scale
from tests.bench.slow_streams import Slow

_HEAD = (
    f"{'cell':<18}{'target':<15}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'+p50 ms':>9}"
    f"{'vs floor':>9}{'CPU ms/req':>11}{'ctl ms/call':>12}{'RSS MB':>8}{'core0':>7}{'core1':>7}"
    "  status"
)


def _num(value: float | None, digits: int = 2) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:,.{digits}f}"


def _line(row: Measured, rows: Rows) -> str:
    direct = rows.get(row.scenario, row.connections, "direct")
    floor = rows.get(row.scenario, row.connections, FLOOR)
    added = row.p50 - direct.p50 if direct and row.target != "direct" else None
    ratio = f"{row.rps / floor.rps * 100:.0f} %" if floor and floor.rps else "-"
    status = "ok" if not row.problems else "INVALID: " + "; ".join(row.problems)
    if row.driver_bound:
        status += " (driver-bound)"
    if row.log_warnings:
        status += f" ({len(row.log_warnings)} warnings logged, first: {row.log_warnings[0][-120:]})"
    others = row.others_on_server_core
    if others is not None and others >= SHARED:
        status += f" (core 0 shared: {others * 100:.0f} %)"
    cell = f"{row.scenario} c={row.connections}"
    return (
        f"{cell:<18}{row.target:<15}{row.rps:>9,.0f}{_num(row.p50):>9}{_num(row.p99):>9}"
        f"{_num(added):>9}{ratio:>9}{_num(row.cpu_ms_per_request, 3):>11}"
        f"{_num(row.control_ms_per_call, 3):>12}{row.rss_mb:>8.0f}"
        f"{row.server_core * 100:>6.0f}%{row.driver_core * 100:>6.0f}%  {status}"
    )


def render_cells(rows: list[Measured]) -> str:
    """The main table, one line per target and cell, a blank line between cells."""
    index = Rows(rows)
    lines = [_HEAD]
    previous: tuple[str, int] | None = None
    for row in rows:
        if previous is not None and previous != (row.scenario, row.connections):
            lines.append("")
        previous = (row.scenario, row.connections)
        lines.append(_line(row, index))
    return "\n".join(lines)


def render_slow(slow: dict[str, Slow]) -> str:
    """The slow-streams cell, one line per target."""
    lines = [
        f"{'target':<15}{'done':>11}{'first byte p50':>16}{'p99':>8}{'max':>8}{'late':>6}"
        f"{'duration p50':>14}{'max':>8}{'RSS MB':>8}{'CPU ms/event':>14}"
    ]
    for s in slow.values():
        done = f"{s.completed}/{s.streams}"
        per_event = s.cpu_seconds * 1000 / (s.completed * SLOW_EVENTS) if s.completed else math.nan
        lines.append(
            f"{s.target:<15}{done:>11}{s.first_byte_p50:>14.3f} s{s.first_byte_p99:>6.2f} s"
            f"{s.first_byte_max:>6.2f} s{s.late:>6}"
            f"{s.duration_p50:>12.2f} s{s.duration_max:>6.2f} s{s.rss_mb:>8.0f}{per_event:>14.3f}"
        )
        if s.first_error:
            lines.append(f"{'':<15}first failure: {s.first_error}")
        if s.log_warnings:
            lines.append(f"{'':<15}{len(s.log_warnings)} warnings logged: {s.log_warnings[0]}")
    return "\n".join(lines)


def render_scale(scale: Scale) -> str:
    """The workers cell in a few lines."""
    if not scale.available:
        return f"workers: {scale.note}"
    lines = [f"workers ({scale.note}), chat c=64, engines free on both cores:"]
    for row in scale.rows:
        status = "ok" if not row.problems else "INVALID: " + "; ".join(row.problems)
        lines.append(
            f"  {row.target:<10}{row.rps:>9,.0f} req/s  p50 {row.p50:.2f} ms  "
            f"CPU {row.cpu_ms_per_request:.3f} ms/req  RSS {row.rss_mb:.0f} MB  {status}"
        )
    if scale.ratio is not None:
        lines.append(f"  2 workers / 1 worker: {scale.ratio:.2f}x")
    return "\n".join(lines)


_REPLICAS_HEAD = (
    f"  {'cell':<18}{'target':<12}{'req/s':>9}{'vs 1':>7}{'p50 ms':>9}{'p99 ms':>9}"
    f"{'errors':>8}{'CPU ms/req':>11}  {'calls per engine':<24}status"
)


def _replica_line(replicas: Replicas, item: Balanced) -> str:
    row = item.row
    ratio = replicas.ratio(item)
    shown = f"{ratio:.2f}x" if ratio is not None and len(item.served) > 1 else "-"
    served = " / ".join(f"{n:,}" for n in item.served)
    status = "ok" if not item.problems else "INVALID: " + "; ".join(item.problems)
    if row.driver_bound:
        status += " (driver-bound)"
    if row.log_warnings:
        status += f" ({len(row.log_warnings)} warnings logged, first: {row.log_warnings[0][-120:]})"
    cell = f"{row.scenario} c={row.connections}"
    return (
        f"  {cell:<18}{row.target:<12}{row.rps:>9,.0f}{shown:>7}{_num(row.p50):>9}"
        f"{_num(row.p99):>9}{row.errors:>8}{_num(row.cpu_ms_per_request, 3):>11}"
        f"  {served:<24}{status}"
    )


def render_replicas(replicas: Replicas) -> str:
    """The replicas cell: a line per count of replicas, its ratio to 1, the calls each served."""
    if not replicas.available:
        return f"replicas: {replicas.note}"
    lines = [
        "replicas (Caddy in front of N engine processes, one control plane and Redis;",
        f"  {replicas.note}):",
        _REPLICAS_HEAD,
    ]
    previous: tuple[str, int] | None = None
    for item in replicas.rows:
        cell = (item.row.scenario, item.row.connections)
        if previous is not None and previous != cell:
            lines.append("")
        previous = cell
        lines.append(_replica_line(replicas, item))
    return "\n".join(lines)


def render_goals(goals: list[Goal]) -> str:
    """Each goal with its value, what was wanted, and met / NOT MET / not measured."""
    width = max((len(g.name) for g in goals), default=10) + 2
    lines = []
    for g in goals:
        verdict = "not measured" if g.met is None else ("met" if g.met else "NOT MET")
        lines.append(f"{g.name:<{width}}{g.want:>12}   {verdict:<9}  {g.value}")
    return "\n".join(lines)


def _row_record(row: Measured) -> dict[str, Any]:
    return {
        "scenario": row.scenario,
        "connections": row.connections,
        "target": row.target,
        "kind": row.kind,
        "requests": row.requests,
        "rps": row.rps,
        "p50_ms": row.p50,
        "p99_ms": row.p99,
        "errors": row.errors,
        "cpu_ms_per_request": row.cpu_ms_per_request,
        "control_cpu_ms_per_call": row.control_ms_per_call,
        "peak_rss_mb": row.rss_mb,
        "server_core_busy": row.server_core,
        "driver_core_busy": row.driver_core,
        "driver_bound": row.driver_bound,
        "others_on_server_core": row.others_on_server_core,
        "log_warnings": len(row.log_warnings),
        "first_log_warnings": row.log_warnings[:5],
        "bytes_per_request": row.bytes_per_request,
        "probe": asdict(row.probe),
        "problems": row.problems,
        "valid": not row.problems,
        "rounds": [asdict(r) for r in row.runs],
    }


def _clean(value: Any) -> Any:
    """NaN is not JSON: written as null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _replica_record(replicas: Replicas, item: Balanced) -> dict[str, Any]:
    return _row_record(item.row) | {
        "replicas": len(item.served),
        "calls_per_engine": list(item.served),
        "every_replica_served": not item.idle,
        "ratio_to_one": replicas.ratio(item),
        "problems": item.problems,
        "valid": not item.problems,
    }


def write_json(
    out: Path, record: dict[str, Any], rows: list[Measured], scale: Scale, replicas: Replicas
) -> None:
    """The whole run as one JSON document at `out`."""
    record = record | {
        "replicas": {
            "available": replicas.available,
            "note": replicas.note,
            "cells": [_replica_record(replicas, r) for r in replicas.rows],
        },
        "cells": [_row_record(r) for r in rows],
        "workers": {
            "available": scale.available,
            "note": scale.note,
            "ratio": scale.ratio,
            "cells": [_row_record(r) for r in scale.rows],
        },
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(_clean(record), indent=2) + "\n")
