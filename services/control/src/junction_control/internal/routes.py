"""Endpoints of the internal API (engine -> control, never exposed publicly).

POST /internal/v1/route/resolve      signed; {"token_hash"} -> Route.to_dict()
POST /internal/v1/telemetry/events   signed; telemetry batch -> 202 {"accepted", "duplicates",
                                     "rejected", "conflicts"}
GET  /healthz                        database round trip: 200 or 503
GET  /metrics                        Prometheus text
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import DBAPIError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from junction_contracts import route as route_contract
from junction_contracts.errors import ContractError
from junction_control.context import InternalContext, internal_context
from junction_control.db import Database
from junction_control.errors import ConnectionLost, DatabaseUnavailable
from junction_control.internal.resolve import resolve_route
from junction_control.internal.signature import signed
from junction_control.internal.spans import note, traced
from junction_control.responses import error_response
from junction_control.usage.events import Batch, loads, read_batch
from junction_control.usage.ingest import IngestResult, ingest

log = logging.getLogger(__name__)

_TOKEN_HASH_RE = re.compile(r"^[0-9a-f]{64}$")
# deadlock_detected, serialization_failure: PostgreSQL rolled the transaction
# back and the same batch may well succeed when tried again
_TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})
# a batch is tried this often before the engine is told to retry it later
INGEST_ATTEMPTS = 3


def is_transient(exc: DBAPIError) -> bool:
    """True when the database aborted the transaction for a deadlock or serialization failure."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code in _TRANSIENT_SQLSTATES


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


async def resolve(request: Request, body: bytes) -> Response:
    """The route of one token hash, or 404 unknown_token."""
    ctx = internal_context(request)
    data = _json_object(body)
    token_hash = None if data is None else data.get("token_hash")
    if not isinstance(token_hash, str) or not _TOKEN_HASH_RE.match(token_hash):
        ctx.metrics.resolves.labels(outcome="invalid").inc()
        return error_response(
            400, "invalid_request", 'body must be {"token_hash": <64 lowercase hex chars>}'
        )
    try:
        route = await _resolve(ctx, token_hash)
    except DatabaseUnavailable:
        ctx.metrics.resolves.labels(outcome="unavailable").inc()
        raise
    if route is None:
        ctx.metrics.resolves.labels(outcome="unknown_token").inc()
        note(request, {"junction.route.found": False})
        return error_response(404, "unknown_token", "no token has this hash")
    ctx.metrics.resolves.labels(outcome="found").inc()
    note(
        request,
        {
            "junction.route.found": True,
            "junction.tenant.id": route.token.tenant_id,
            "junction.route.models": len(route.models),
        },
    )
    # orjson writes the route's dataclasses as `Route.to_dict` would, without copying them
    return Response(orjson.dumps(route), media_type="application/json")


async def _resolve(ctx: InternalContext, token_hash: str) -> route_contract.Route | None:
    """The token's route; asked again on a new connection if the pooled one had died."""
    try:
        return await _resolve_once(ctx, token_hash)
    except ConnectionLost:
        # the pool is renewed: the next checkout is a new connection
        return await _resolve_once(ctx, token_hash)


async def _resolve_once(ctx: InternalContext, token_hash: str) -> route_contract.Route | None:
    async with ctx.database.reader() as conn:
        return await resolve_route(
            conn,
            token_hash,
            sealed_keys=ctx.sealed_keys,
            on_undecryptable=lambda _id: ctx.metrics.undecryptable_credentials.inc(),
        )


async def telemetry_events(request: Request, body: bytes) -> Response:
    """Record a batch of call events; 202 with how many were new and how many replays.

    A body that is not a telemetry batch of the supported version is refused
    whole (400, nothing stored). Otherwise every event is applied or counted
    as a duplicate (or rejected: unknown tenant, a value that fits no column,
    a conflict). ``accepted + duplicates + rejected`` is the number of events;
    ``conflicts`` lists the ids of the rejected events whose call and kind are
    recorded with other content (`usage.conflicts`). The answer is 202 all the
    same: the sender cannot fix a conflict by sending again.
    """
    ctx = internal_context(request)
    try:
        batch = read_batch(loads(body))
    except (UnicodeDecodeError, json.JSONDecodeError):
        ctx.metrics.telemetry_batches.labels(outcome="invalid").inc()
        return error_response(400, "invalid_request", "body must be a JSON telemetry batch")
    except ContractError as exc:
        ctx.metrics.telemetry_batches.labels(outcome="invalid").inc()
        return error_response(400, "invalid_request", str(exc))
    try:
        result = await _ingest(ctx.database, batch)
    except DatabaseUnavailable:
        ctx.metrics.telemetry_batches.labels(outcome="unavailable").inc()
        raise
    ctx.metrics.telemetry_batches.labels(outcome="stored").inc()
    note(
        request,
        {
            "junction.telemetry.events": len(batch.events),
            "junction.telemetry.accepted": result.accepted,
            "junction.telemetry.duplicates": result.duplicates,
            "junction.telemetry.rejected": result.rejected + result.conflicted + batch.malformed,
        },
    )
    ctx.metrics.ingested(batch.events)
    for (kind, outcome), count in result.counts.items():
        ctx.metrics.telemetry_events.labels(kind=kind, outcome=outcome).inc(count)
    return JSONResponse(
        {
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "rejected": result.rejected + result.conflicted + batch.malformed,
            "conflicts": result.conflicts,
        },
        status_code=202,
    )


async def _ingest(database: Database, batch: Batch) -> IngestResult:
    """Ingest in one transaction, tried again when PostgreSQL aborts it as a deadlock.

    Ingest is idempotent, so a retried batch records each call once; after the
    last attempt DatabaseUnavailable makes it a 503 the engine retries later.
    """
    for attempt in range(1, INGEST_ATTEMPTS + 1):
        try:
            async with database.session() as session:
                result = await ingest(await session.connection(), batch)
                await session.commit()
            return result
        except DBAPIError as exc:
            if not is_transient(exc):
                raise
            log.warning(
                "telemetry batch aborted by the database (attempt %d): %s", attempt, exc.orig
            )
        except ConnectionLost as exc:
            # the pool is renewed: the next attempt runs on a new connection
            if attempt == INGEST_ATTEMPTS:
                raise
            log.warning("telemetry batch lost its connection (attempt %d): %s", attempt, exc)
    raise DatabaseUnavailable("telemetry batch aborted by concurrent writes; retry it later")


async def healthz(request: Request) -> Response:
    """200 when the database answers, 503 otherwise."""
    ctx = internal_context(request)
    try:
        await ctx.database.ping()
    except DatabaseUnavailable:
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


async def metrics(request: Request) -> Response:
    """Prometheus counters of this app."""
    ctx = internal_context(request)
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)


def internal_routes() -> list[BaseRoute]:
    """Every route of the internal API; each POST goes through `signed`, inside its span."""
    return [
        Route(
            "/internal/v1/route/resolve", traced("route resolve", signed(resolve)), methods=["POST"]
        ),
        Route(
            "/internal/v1/telemetry/events",
            traced("telemetry ingest", signed(telemetry_events)),
            methods=["POST"],
        ),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
