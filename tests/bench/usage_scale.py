"""Usage at scale: the usage endpoint over 1,000,000 calls on PostgreSQL.

    uv run --no-sync python -m tests.bench.usage_scale [--database-url URL] [--calls N]

Makes a database of its own on the given server (``junction_bench_usage_<pid>``,
dropped at the end; the database named in the URL is only used to connect),
seeds one tenant (four models, twenty tokens) and loads `calls` call rows
with COPY, spread evenly over the last 92 days, the last ones minutes ago.
Then it runs the rollup job over all of them, as the first upkeep pass of a
control plane would, and ANALYZE (`tests.bench.usage_data`). It serves the admin API with
``junction-control serve`` in a child process (waiting for the process's own
first upkeep pass), re-stamps 500 calls of an hour two days back as a late
``finished`` would (that hour is read from the calls), and times
``GET /api/v1/tenants/{id}/usage`` over loopback, one request at a time:

- 30 days and 90 days of whole hours (the rollups, and the calls since the
  last rolled hour);
- 90 days up to now, from minutes past an hour: partial hours at both ends;
- the CSV export of 30 days, reported beside them but not judged.

Each range is requested WARMUP times unmeasured, then `requests` times; the
median and p95 are the driver's wall time per answer. The 90-day partial
answer is checked against the raw calls' totals (`usage_summary`), whose
own time is reported for comparison. Prints a JSON object on stdout and a
readable summary on stderr; `run` returns the same figures to the main bench.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from junction_control.db import Database
from junction_control.settings import database_url
from junction_control.usage.coverage import RollupCoverage
from junction_control.usage.rollup import floor_hour
from junction_control.usage.service import usage_spans, usage_summary
from tests.bench import usage_data

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
CALLS = 1_000_000
WARMUP = 3
REQUESTS = 20
GOAL_MS = 200.0
START_TIMEOUT = 60.0
REQUEST_TIMEOUT = 60.0


# --- the control plane under test -------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serve(env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    """``junction-control serve`` with its admin API on `port`, stopped on the way out."""
    ports = {"JUNCTION_ADMIN_PORT": str(port), "JUNCTION_INTERNAL_PORT": str(_free_port())}
    proc = subprocess.Popen(
        [sys.executable, "-m", "junction_control", "serve"],
        env={**os.environ, **env, **ports},
        cwd=env["JUNCTION_VAR_DIR"],  # no `.env` of the working tree leaks in
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the control plane exited with {proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the control plane did not listen") from None
                time.sleep(0.05)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _upkeep_passed(database: Database, after: datetime) -> None:
    """Wait for the served process's first upkeep pass (it re-rolls the last day)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        async with database.session() as session:
            row = await session.get(RollupCoverage, "hourly", populate_existing=True)
        if row is not None and row.updated_at is not None and row.updated_at > after:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("the control plane's upkeep did not run")


# --- the run -----------------------------------------------------------------


def _ranges(now: datetime) -> dict[str, tuple[datetime, datetime]]:
    hour = floor_hour(now)
    return {
        "30d": (hour - timedelta(days=30), hour),
        "90d": (hour - timedelta(days=90), hour),
        "90d_partial": (now - timedelta(days=90), now),
    }


def _percentiles(samples: list[float]) -> tuple[float, float]:
    """Median and p95 of `samples`, in ms."""
    p95 = statistics.quantiles(samples, n=20, method="inclusive")[18]
    return statistics.median(samples) * 1000, p95 * 1000


async def _time_get(
    client: httpx.AsyncClient, path: str, params: dict[str, str], requests: int
) -> tuple[list[float], httpx.Response]:
    for _ in range(WARMUP):
        (await client.get(path, params=params)).raise_for_status()
    samples = []
    response = None
    for _ in range(requests):
        start = time.perf_counter()
        response = await client.get(path, params=params)
        samples.append(time.perf_counter() - start)
        response.raise_for_status()
    assert response is not None
    return samples, response


async def _measure(
    database: Database, port: int, tenant_id: str, token: str, requests: int
) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    ranges = _ranges(now)
    result: dict[str, Any] = {}
    headers = {"authorization": f"Bearer {token}"}
    base = f"http://127.0.0.1:{port}/api/v1/tenants/{tenant_id}"
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=REQUEST_TIMEOUT) as client:
        answers = {}
        for name, (since, until) in ranges.items():
            params = {"since": since.isoformat(), "until": until.isoformat()}
            samples, answers[name] = await _time_get(client, "/usage", params, requests)
            result[f"usage_{name}_p50_ms"], result[f"usage_{name}_p95_ms"] = _percentiles(samples)
            async with database.session() as session:
                spans = await _spans(session, tenant_id, since, until)
            result[f"usage_{name}_rolled_hours"] = float(spans[0])
            result[f"usage_{name}_raw_spans"] = float(spans[1])
        since, until = ranges["30d"]
        params = {"since": since.isoformat(), "until": until.isoformat()}
        samples, exported = await _time_get(client, "/usage.csv", params, max(requests // 4, 2))
        result["usage_csv_30d_p50_ms"], _ = _percentiles(samples)
        result["usage_csv_30d_rows"] = float(exported.text.count("\r\n") - 1)
        result["usage_csv_30d_mb"] = len(exported.content) / 1e6
    since, until = ranges["90d_partial"]
    async with database.session() as session:
        start = time.perf_counter()
        raw = await usage_summary(session, tenant_id, since, until)
        result["usage_raw_90d_ms"] = (time.perf_counter() - start) * 1000
    expected = [{k: getattr(m, k) for k in answers["90d_partial"].json()["models"][0]} for m in raw]
    result["usage_matches_raw"] = float(answers["90d_partial"].json()["models"] == expected)
    return result


async def _spans(
    session: AsyncSession, tenant_id: str, since: datetime, until: datetime
) -> tuple[int, int]:
    """Hours read from the rollups, and spans read from the calls, for one range."""
    spans = await usage_spans(
        session, tenant_id, since, until, retention=timedelta(days=usage_data.RETENTION_DAYS)
    )
    hours = sum((s.end - s.start) // timedelta(hours=1) for s in spans if s.rolled)
    return int(hours), sum(1 for s in spans if not s.rolled)


async def _run(url: str, calls: int, requests: int) -> dict[str, Any]:
    result: dict[str, Any] = {"usage_calls": float(calls)}
    async with usage_data.fresh_database(url) as operator_url:
        with tempfile.TemporaryDirectory(prefix="junction-bench-usage-") as var:
            env = {
                "JUNCTION_DATABASE_URL": operator_url,
                "JUNCTION_VAR_DIR": var,
                "JUNCTION_INTERNAL_SECRET": base64.b64encode(os.urandom(32)).decode(),
                "JUNCTION_MASTER_KEY": "v1:" + base64.b64encode(os.urandom(32)).decode(),
                "JUNCTION_CALL_RETENTION_DAYS": str(usage_data.RETENTION_DAYS),
                "JUNCTION_LOG_LEVEL": "warning",
            }
            database = Database(database_url(operator_url, Path(var)))
            try:
                await database.migrate()
                start = time.perf_counter()
                end = datetime.now(UTC) - timedelta(minutes=5)
                tenant_id, token = await usage_data.load(database, operator_url, calls, end)
                result["usage_load_seconds"] = time.perf_counter() - start
                port = _free_port()
                started = datetime.now(UTC)
                with _serve(env, port):
                    await _upkeep_passed(database, started)
                    changed = floor_hour(end) - timedelta(days=2)
                    result["usage_late_calls"] = float(
                        await usage_data.restamp_late_calls(operator_url, changed)
                    )
                    result |= await _measure(database, port, tenant_id, token, requests)
                since = datetime.now(UTC) - timedelta(days=90)
                result["plans"] = await usage_data.plans(operator_url, tenant_id, since, started)
            finally:
                await database.dispose()
    p95s = [result[f"usage_{name}_p95_ms"] for name in _ranges(datetime.now(UTC))]
    result["usage_worst_p95_ms"] = max(p95s)
    return result


def run(database_url: str, *, calls: int = CALLS, requests: int = REQUESTS) -> dict[str, Any]:
    """Load `calls` calls into a fresh database on PostgreSQL (`database_url`); time reads."""
    return asyncio.run(_run(database_url, calls, requests))


def summary(result: dict[str, Any]) -> str:
    """The figures in a few readable lines."""
    lines = [
        f"usage over {result['usage_calls']:,.0f} calls (loaded and rolled up in "
        f"{result['usage_load_seconds']:.0f} s); goal: p95 <= {GOAL_MS:.0f} ms"
    ]
    for name in ("30d", "90d", "90d_partial"):
        lines.append(
            f"  {name:<12} p50 {result[f'usage_{name}_p50_ms']:7.1f} ms  "
            f"p95 {result[f'usage_{name}_p95_ms']:7.1f} ms  "
            f"({result[f'usage_{name}_rolled_hours']:,.0f} h from rollups, "
            f"{result[f'usage_{name}_raw_spans']:.0f} span(s) from calls)"
        )
    lines.append(
        f"  csv 30d      p50 {result['usage_csv_30d_p50_ms']:7.1f} ms  "
        f"({result['usage_csv_30d_rows']:,.0f} rows, {result['usage_csv_30d_mb']:.1f} MB)"
    )
    lines.append(
        f"  the same 90 days from the raw calls alone: {result['usage_raw_90d_ms']:,.0f} ms; "
        f"answers match: {bool(result['usage_matches_raw'])}"
    )
    lines.append(f"  plans: {result.get('plans')}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.usage_scale", description=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--calls", type=int, default=CALLS)
    parser.add_argument("--requests", type=int, default=REQUESTS, help="timed requests per range")
    args = parser.parse_args(argv)
    result = run(args.database_url, calls=args.calls, requests=max(args.requests, 2))
    print(json.dumps(result, sort_keys=True), flush=True)
    print(summary(result), file=sys.stderr)
    return 0 if result["usage_matches_raw"] else 1


if __name__ == "__main__":
    sys.exit(main())
