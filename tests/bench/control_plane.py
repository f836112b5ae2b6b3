"""The control plane alone: route resolves on a cache miss and telemetry ingest.

    uv run --no-sync python -m tests.bench.control_plane [--database-url URL] [--seconds S]

Creates a database of its own on the given PostgreSQL server (``junction_bench_<pid>``,
dropped at the end; the database named in the URL is only used to connect), or a
temporary file for a ``sqlite://`` URL. Seeds one tenant with two providers (two keys
each), three models and `tokens` tokens, then runs ``junction-control serve`` in a
child process and drives its internal API over loopback:

- resolves: ``POST /internal/v1/route/resolve`` with a distinct token each time, so
  every call is a cache miss;
- ingest: ``POST /internal/v1/telemetry/events`` with signed batches of 500 events as
  the engine sends them: calls started in the previous batch finishing, new calls
  starting, and short calls whose ``started`` and ``finished`` share a batch.

The child's CPU time (``/proc/<pid>/stat``) over each phase, divided by the work
done, is the control plane's cost per resolve and per finished call; the driver's
own CPU per request is reported beside it, to show it is not the bottleneck. Each
phase is bounded in time and in requests. Prints a JSON object on stdout and a
readable line on stderr; `run` returns the same figures to the main bench.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from sqlalchemy import func, insert, select

from junction_contracts.egress import Egress
from junction_contracts.signing import sign
from junction_contracts.telemetry import TELEMETRY_PATH, TELEMETRY_VERSION, CallEvent
from junction_control.columns import new_id, utcnow
from junction_control.credits.models import LedgerEntry
from junction_control.db import Database
from junction_control.models import service as models
from junction_control.providers import service as providers
from junction_control.settings import ControlSettings, database_url
from junction_control.tenants import service as tenants
from junction_control.tokens.models import UserToken
from junction_control.usage.models import ModelCall

RESOLVE_PATH = "/internal/v1/route/resolve"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
BATCH_EVENTS = 500
RESOLVE_CONCURRENCY = 8
INGEST_CONCURRENCY = 2
REQUEST_TIMEOUT = 30.0
WARMUP = 50  # unmeasured resolves (and a tenth as many batches) before each phase
START_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Seeded:
    """What the bench knows about the tenant it created."""

    tenant_id: str
    token_ids: tuple[str, ...]
    token_hashes: tuple[str, ...]


# --- the database ------------------------------------------------------------


@asynccontextmanager
async def _bench_database(url: str) -> AsyncIterator[str]:
    """The operator-style URL of a fresh database, dropped afterwards."""
    if url.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="junction-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    server = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    name = f"junction_bench_{os.getpid()}"
    await _pg_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _pg_execute(server, f'CREATE DATABASE "{name}"')
    try:
        yield f"{server.rpartition('/')[0]}/{name}"
    finally:
        await _pg_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _pg_execute(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _seed(database: Database, settings: ControlSettings, tokens: int) -> Seeded:
    """One tenant, two providers with two keys each, three models, `tokens` tokens."""
    async with database.session() as session:
        tenant = await tenants.create_tenant(session, "bench")
        made = []
        for name, kind in (("openai-a", "openai"), ("anthropic-b", "anthropic")):
            provider = await providers.create_provider(
                session,
                tenant,
                name,
                type=kind,
                base_url="http://127.0.0.1:9/v1",
                egress=Egress.parse("127.0.0.1/32"),
            )
            for key in ("k1", "k2"):
                await providers.add_credential(
                    session, settings.keyring, provider, key, f"sk-{name}-{key}-{'x' * 32}"
                )
            made.append(provider)
        for name in ("chat", "chat-large", "embed"):
            pricing = models.ModelPricing(input_per_mtok=0.5, output_per_mtok=1.5)
            model = await models.create_model(session, tenant, name, pricing)
            for priority, provider in enumerate(made):
                await models.add_deployment(
                    session, model, provider, f"up-{name}", priority=priority
                )
        await session.commit()
        raws = [f"jk-bench-{secrets.token_urlsafe(30)}" for _ in range(tokens)]
        rows: list[dict[str, Any]] = [
            {
                "id": new_id(),
                "tenant_id": tenant.id,
                "name": f"t{i}",
                "prefix": raw[:12],
                "token_hash": hashlib.sha256(raw.encode()).hexdigest(),
                "rpm": 600,
                "budget_usd": 100.0 if i % 2 else None,
                "spent_usd": 0.0,
                "created_at": utcnow(),
            }
            for i, raw in enumerate(raws)
        ]
        conn = await session.connection()
        table = UserToken.__table__  # type: ignore[attr-defined]
        for start in range(0, len(rows), 1000):
            await conn.execute(insert(table), rows[start : start + 1000])
        await session.commit()
    return Seeded(
        tenant_id=tenant.id,
        token_ids=tuple(r["id"] for r in rows),
        token_hashes=tuple(r["token_hash"] for r in rows),
    )


async def _stored(database: Database) -> tuple[int, int, int]:
    """Rows in model_calls, of them final, and charges in the ledger."""
    async with database.session() as session:
        conn = await session.connection()
        calls = (await conn.execute(select(func.count()).select_from(ModelCall))).scalar_one()
        final = (
            await conn.execute(
                select(func.count()).select_from(ModelCall).where(ModelCall.status != "processing")  # type: ignore[arg-type]
            )
        ).scalar_one()
        charges = (await conn.execute(select(func.count()).select_from(LedgerEntry))).scalar_one()
    return int(calls), int(final), int(charges)


# --- the control plane under test -------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _control(env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    """``junction-control serve`` in a child process, stopped on the way out."""
    ports = {"JUNCTION_INTERNAL_PORT": str(port), "JUNCTION_ADMIN_PORT": str(_free_port())}
    proc = subprocess.Popen(
        [sys.executable, "-m", "junction_control", "serve"],
        env={**os.environ, **env, **ports},
        # in the var directory: no `.env` of the working tree leaks into its settings
        cwd=env["JUNCTION_VAR_DIR"],
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port, proc)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the control plane exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the control plane did not listen on port {port}")


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # after the command name: state is field 3, utime 14 and stime 15 (1-based)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the load ----------------------------------------------------------------


class _Connection:
    """One keep-alive HTTP/1.1 connection: a client far cheaper than the server it drives."""

    def __init__(self, port: int, secret: bytes) -> None:
        self.port = port
        self.secret = secret
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.streams is None:
            self.streams = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.streams
        headers = sign(self.secret, "POST", path, body)
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(
            (
                f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\n{head}\r\n"
            ).encode()
            + body
        )
        async with asyncio.timeout(REQUEST_TIMEOUT):
            response = (await reader.readuntil(b"\r\n\r\n")).lower()
            length = int(response.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
            return int(response[9:12]), await reader.readexactly(length)

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def _resolves(
    port: int, secret: bytes, hashes: list[str], *, seconds: float
) -> tuple[int, float]:
    """Resolve each hash once (or until `seconds` pass); how many, and the wall time."""
    todo = iter(hashes)
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        conn = _Connection(port, secret)
        try:
            for token_hash in todo:
                if time.perf_counter() >= deadline:
                    return
                body = json.dumps({"token_hash": token_hash}).encode()
                status, answer = await conn.post(RESOLVE_PATH, body)
                if status != 200:
                    raise RuntimeError(f"resolve answered {status}: {answer[:200]!r}")
                done += 1
        finally:
            conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(RESOLVE_CONCURRENCY)))
    return done, time.perf_counter() - start


class _Traffic:
    """Batches like an engine's: each finishes the calls the one before started.

    Events are copies of two `CallEvent`s of the contract (a start and a
    successful finish) with fresh ids, so making a batch costs the driver a
    small fraction of what ingesting it costs the control plane.
    """

    def __init__(self, seeded: Seeded) -> None:
        self.seeded = seeded
        self.open: list[tuple[str, float, str]] = []
        self.n = 0
        common: dict[str, Any] = {
            "id": "",
            "call_id": "",
            "at": 0.0,
            "tenant_id": seeded.tenant_id,
            "token_id": "",
            "model": "chat",
            "stream": True,
        }
        self.started = CallEvent(kind="started", **common).to_dict()
        self.finished = CallEvent(
            kind="finished",
            status="success",
            http_status=200,
            deployment_id="dep",
            provider_id="prov",
            credential_id="cred",
            attempts=1,
            input_tokens=120,
            output_tokens=40,
            cost_usd=0.00012,
            latency_ms=800.0,
            ttft_ms=90.0,
            **common,
        ).to_dict()

    def _call(self) -> tuple[str, float, str]:
        self.n += 1
        token_id = self.seeded.token_ids[self.n % len(self.seeded.token_ids)]
        return uuid.uuid4().hex, time.time() - 1.0, token_id

    def _event(self, template: dict[str, Any], call: tuple[str, float, str]) -> dict[str, Any]:
        call_id, started_at, token_id = call
        ended = template is self.finished
        return template | {
            "id": uuid.uuid4().hex,
            "call_id": call_id,
            "at": started_at + 0.8 if ended else started_at,
            "started_at": started_at,
            "token_id": token_id,
            "trace_id": call_id if ended else None,
        }

    def batch(self) -> tuple[bytes, int]:
        """One body of BATCH_EVENTS events, and how many calls it finishes."""
        events = [self._event(self.finished, call) for call in self.open]
        finished = len(events)
        # a quarter of the events start calls the next batch finishes; the rest are
        # short calls reported whole
        starting = [self._call() for _ in range(BATCH_EVENTS // 4)]
        events += [self._event(self.started, call) for call in starting]
        while len(events) + 2 <= BATCH_EVENTS:
            call = self._call()
            events += [self._event(self.started, call), self._event(self.finished, call)]
            finished += 1
        self.open = starting
        return orjson.dumps({"version": TELEMETRY_VERSION, "events": events}), finished


async def _ingest(
    port: int, secret: bytes, seeded: Seeded, *, seconds: float, max_batches: int
) -> tuple[int, int, float]:
    """Send batches for `seconds` (at most `max_batches`); events, calls finished, wall time."""
    events = calls = 0
    deadline = time.perf_counter() + seconds
    sent = 0

    async def sender() -> None:
        nonlocal events, calls, sent
        traffic = _Traffic(seeded)
        conn = _Connection(port, secret)
        try:
            while time.perf_counter() < deadline and sent < max_batches:
                sent += 1
                body, finished = traffic.batch()
                status, answer = await conn.post(TELEMETRY_PATH, body)
                if status != 202:
                    raise RuntimeError(f"telemetry answered {status}: {answer[:200]!r}")
                counts = orjson.loads(answer)
                if counts["rejected"]:
                    raise RuntimeError(f"telemetry rejected events: {counts}")
                events += BATCH_EVENTS
                calls += finished
            # the calls left open finish too, outside the measured count
        finally:
            conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(INGEST_CONCURRENCY)))
    return events, calls, time.perf_counter() - start


# --- the run -----------------------------------------------------------------


PHASES = ("resolve", "ingest")


async def _measure_resolves(
    port: int, secret: bytes, pid: int, hashes: list[str], seconds: float
) -> dict[str, float]:
    await _resolves(port, secret, hashes[:WARMUP], seconds=seconds)
    cpu, driver = _cpu_seconds(pid), time.process_time()
    resolved, wall = await _resolves(port, secret, hashes[WARMUP:], seconds=seconds)
    cpu, driver = _cpu_seconds(pid) - cpu, time.process_time() - driver
    return {
        "resolves": float(resolved),
        "resolves_per_s": resolved / wall,
        "resolve_cpu_ms": 1000 * cpu / max(resolved, 1),
        "resolve_driver_cpu_ms": 1000 * driver / max(resolved, 1),
    }


async def _measure_ingest(
    port: int, secret: bytes, pid: int, seeded: Seeded, seconds: float
) -> dict[str, float]:
    await _ingest(port, secret, seeded, seconds=seconds, max_batches=WARMUP // 10)
    cpu, driver = _cpu_seconds(pid), time.process_time()
    events, calls, wall = await _ingest(port, secret, seeded, seconds=seconds, max_batches=100_000)
    cpu, driver = _cpu_seconds(pid) - cpu, time.process_time() - driver
    return {
        "events": float(events),
        "events_per_s": events / wall,
        "calls_per_s": calls / wall,
        "ingest_cpu_ms_per_call": 1000 * cpu / max(calls, 1),
        "ingest_cpu_ms_per_event": 1000 * cpu / max(events, 1),
        "ingest_driver_cpu_ms_per_call": 1000 * driver / max(calls, 1),
    }


async def _run(
    url: str, seconds: float, tokens: int, phases: tuple[str, ...] = PHASES
) -> dict[str, float]:
    phase = max(seconds / len(phases), 0.5)
    result: dict[str, float] = {}
    async with _bench_database(url) as operator_url:
        with tempfile.TemporaryDirectory(prefix="junction-bench-var-") as var:
            secret = secrets.token_urlsafe(48)
            env = {
                "JUNCTION_DATABASE_URL": operator_url,
                "JUNCTION_VAR_DIR": var,
                "JUNCTION_INTERNAL_SECRET": secret,
                "JUNCTION_MASTER_KEY": "v1:" + base64.b64encode(os.urandom(32)).decode(),
                "JUNCTION_LOG_LEVEL": "warning",
            }
            settings = ControlSettings.from_env(environ=env, env_file=None)
            database = Database(database_url(operator_url, Path(var)))
            try:
                await database.migrate()
                seeded = await _seed(database, settings, tokens + WARMUP)
                port = _free_port()
                key = secret.encode()
                with _control(env, port) as proc:
                    if "resolve" in phases:
                        hashes = list(seeded.token_hashes)
                        result |= await _measure_resolves(port, key, proc.pid, hashes, phase)
                    if "ingest" in phases:
                        result |= await _measure_ingest(port, key, proc.pid, seeded, phase)
                stored, final, charges = await _stored(database)
            finally:
                await database.dispose()
    return result | {
        "calls_stored": float(stored),
        "calls_final": float(final),
        "charges": float(charges),
    }


def run(
    database_url: str,
    *,
    seconds: float,
    tokens: int | None = None,
    phases: tuple[str, ...] = PHASES,
) -> dict[str, float]:
    """Measure resolves and ingest for about `seconds` in all against a fresh database.

    `database_url` names a PostgreSQL server (any database on it: the bench makes
    its own) or ``sqlite://`` for a temporary SQLite file. `tokens` bounds the
    resolves (each token is resolved once); by default enough for 3,000/s.
    """
    count = tokens if tokens is not None else max(int(3000 * seconds / 2), 500)
    return asyncio.run(_run(database_url, seconds, count, phases))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.control_plane", description=__doc__
    )
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--seconds", type=float, default=10.0, help="both phases, in all")
    parser.add_argument("--tokens", type=int, default=None, help="distinct tokens to resolve")
    parser.add_argument("--only", choices=PHASES, default=None, help="measure one phase")
    args = parser.parse_args(argv)
    phases = PHASES if args.only is None else (args.only,)
    result = run(args.database_url, seconds=args.seconds, tokens=args.tokens, phases=phases)
    print(json.dumps(result, sort_keys=True), flush=True)
    lines = []
    if "resolves_per_s" in result:
        lines.append(
            f"{result['resolves_per_s']:,.0f} resolves/s on a cache miss "
            f"({result['resolve_cpu_ms']:.2f} CPU-ms each)"
        )
    if "events_per_s" in result:
        lines.append(
            f"{result['events_per_s']:,.0f} events/s, {result['calls_per_s']:,.0f} calls/s "
            f"({result['ingest_cpu_ms_per_call']:.3f} CPU-ms per call)"
        )
    print("control plane: " + "; ".join(lines), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
