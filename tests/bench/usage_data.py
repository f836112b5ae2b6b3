"""The data of the usage bench: a fresh database, 1,000,000 calls by COPY, rolled up.

Used by `tests.bench.usage_scale`. The calls are written as the engine's
telemetry would have left them (finished a second after they started, last
stamped then), straight into model_calls with asyncpg's COPY; the hourly
rollups are then made by the rollup job itself (`rollup_hours` from the
first call), so they are what a control plane would hold.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from pydantic_core import PydanticUndefined
from sqlalchemy import Table

from junction_control.auth.service import start_session
from junction_control.db import Database
from junction_control.models import service as models
from junction_control.tenants import service as tenants
from junction_control.tokens import service as tokens
from junction_control.usage.models import ModelCall
from junction_control.usage.rollup import floor_hour, rollup_hours
from junction_control.users.models import User

DAYS = 92
MODELS = ("chat", "chat-large", "embed", "vision")
TOKENS = 20
RETENTION_DAYS = 120  # longer than the data: the served process prunes none of it
LATE_CALLS = 500


@asynccontextmanager
async def fresh_database(url: str) -> AsyncIterator[str]:
    """The URL of a new database on the PostgreSQL server of `url`, dropped afterwards."""
    server = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    name = f"junction_bench_usage_{os.getpid()}"
    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    await _execute(server, drop)
    await _execute(server, f'CREATE DATABASE "{name}"')
    try:
        yield f"{server.rpartition('/')[0]}/{name}"
    finally:
        await _execute(server, drop)


async def _execute(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


_VARYING = (
    "id",
    "token_id",
    "model",
    "status",
    "http_status",
    "attempts",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cost_usd",
    "started_at",
    "finished_at",
    "created_at",
    "updated_at",
)


def _calls(
    tenant_id: str, token_ids: list[str], count: int, end: datetime
) -> Iterator[tuple[Any, ...]]:
    """`count` finished calls evenly over the DAYS before `end`, as model_calls records."""
    table: Table = ModelCall.__table__  # type: ignore[attr-defined]
    names = [c.name for c in table.columns]
    # every other column as a new row's model would have it
    template: list[Any] = [None] * len(names)
    for i, name in enumerate(names):
        field = ModelCall.model_fields.get(name)
        if field is not None and field.default is not PydanticUndefined:
            template[i] = field.default
    template[names.index("tenant_id")] = tenant_id
    template[names.index("latency_ms")] = 800.0
    at = [names.index(name) for name in _VARYING]
    rng = random.Random(7)
    step = timedelta(days=DAYS) / count
    start = end - timedelta(days=DAYS)
    second = timedelta(seconds=1)
    for i in range(count):
        started = start + step * i
        input_tokens, output_tokens = rng.randint(50, 2000), rng.randint(10, 500)
        roll = rng.random()
        if roll < 0.02:  # failed upstream: the input was sent, nothing came back
            outcome = ("failed", 502, 1, input_tokens, 0, 0, 0.0)
        elif roll < 0.03:  # refused before any provider was tried
            outcome = ("refused", 400, 0, 0, 0, 0, 0.0)
        else:
            cost = (input_tokens * 0.5 + output_tokens * 1.5) / 1e6
            outcome = ("success", 200, 1, input_tokens, output_tokens, input_tokens // 4, cost)
        row = template.copy()
        values = (
            uuid.UUID(int=rng.getrandbits(128)).hex,
            token_ids[i % len(token_ids)],
            MODELS[(i // len(token_ids)) % len(MODELS)],
            *outcome,
            started,
            started + second,
            started,
            started + second,
        )
        for index, value in zip(at, values, strict=True):
            row[index] = value
        yield tuple(row)


async def load(database: Database, server_url: str, calls: int, end: datetime) -> tuple[str, str]:
    """Seed the tenant, COPY the calls, roll them up; the tenant's id and a session token."""
    async with database.session() as session:
        tenant = await tenants.create_tenant(session, "bench")
        for name in MODELS:
            pricing = models.ModelPricing(input_per_mtok=0.5, output_per_mtok=1.5)
            await models.create_model(session, tenant, name, pricing)
        token_ids = [
            (await tokens.create_token(session, tenant, f"t{i}")).token.id for i in range(TOKENS)
        ]
        user = User(email="bench@junction.test", password_hash="-", is_platform_admin=True)
        session.add(user)
        await session.flush()
        login = await start_session(session, user, lifetime=timedelta(hours=2))
        await session.commit()
    table: Table = ModelCall.__table__  # type: ignore[attr-defined]
    conn = await asyncpg.connect(server_url, timeout=10)
    try:
        await conn.copy_records_to_table(
            "model_calls",
            records=_calls(tenant.id, token_ids, calls, end),
            columns=[c.name for c in table.columns],
        )
    finally:
        await conn.close()
    async with database.session() as session:
        # the first pass on this schema rolls every hour that has calls, as upkeep's would
        await rollup_hours(session, until=end, retention=timedelta(days=RETENTION_DAYS))
        await session.commit()
    await _execute(server_url, "ANALYZE")
    return tenant.id, login.token


async def restamp_late_calls(server_url: str, hour: datetime) -> int:
    """Stamp LATE_CALLS calls of `hour` as changed now, as their late `finished` would."""
    conn = await asyncpg.connect(server_url, timeout=10)
    try:
        status = await conn.execute(
            "UPDATE model_calls SET output_tokens = output_tokens + 1, updated_at = now() "
            "WHERE id IN (SELECT id FROM model_calls WHERE started_at >= $1 AND started_at < $2 "
            "LIMIT $3)",
            hour,
            hour + timedelta(hours=1),
            LATE_CALLS,
        )
    finally:
        await conn.close()
    return int(status.rsplit(" ", 1)[1])


async def plans(
    server_url: str, tenant_id: str, since: datetime, changed: datetime
) -> dict[str, str]:
    """What PostgreSQL does for the two reads of raw calls (first plan line with an index)."""
    queries = {
        "edge": (
            "SELECT model, count(*) FROM model_calls WHERE tenant_id = $1 "
            "AND started_at >= $2 AND started_at < $3 GROUP BY model",
            (tenant_id, since, floor_hour(since) + timedelta(hours=1)),
        ),
        "changed_hours": (
            "SELECT DISTINCT date_trunc('hour', timezone('UTC', started_at)) FROM model_calls "
            "WHERE updated_at >= $1 AND tenant_id = $2",
            (changed, tenant_id),
        ),
    }
    conn = await asyncpg.connect(server_url, timeout=10)
    try:
        found = {}
        for name, (sql, args) in queries.items():
            lines = [r[0] for r in await conn.fetch("EXPLAIN " + sql, *args)]
            found[name] = next((ln.strip() for ln in lines if "Scan" in ln), lines[0]).split("  (")[
                0
            ]
        return found
    finally:
        await conn.close()
