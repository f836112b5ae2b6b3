"""The engine's app factory: every dependency is built here or handed in."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import httpx
from redis.asyncio import BlockingConnectionPool, Redis
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from junction_contracts import Route as RouteModel
from junction_contracts.errors import SealError
from junction_contracts.sealing import derive_sealing_key, unseal
from junction_engine import endpoints
from junction_engine.asgi import EngineApp
from junction_engine.attempt import Upstreams
from junction_engine.calls import CallRecord, ClientCall, finished_event, started_event
from junction_engine.control_client import ControlClient, create_control_http
from junction_engine.errors import GatewayError
from junction_engine.forwarding import Forwarder
from junction_engine.gateway import Engine
from junction_engine.metrics import EngineMetrics
from junction_engine.providers import Protocol
from junction_engine.rate_limits import RateLimiter
from junction_engine.redis_lane import RedisLane
from junction_engine.reservations import Reservations
from junction_engine.responses import error_response
from junction_engine.revocations import RevocationListener
from junction_engine.route_cache import RouteCache
from junction_engine.routing import HealthBoard
from junction_engine.sealed_keys import OpenedKeys
from junction_engine.settings import EngineSettings
from junction_engine.shared_cache import SharedRouteCache
from junction_engine.telemetry_sink import TelemetrySink
from junction_engine.upstream import Upstream
from junction_engine.upstream_aiohttp import AiohttpUpstream
from junction_engine.upstream_http1 import Http1Upstream
from junction_engine.upstream_httpx import HttpxUpstream

log = logging.getLogger("junction.engine")


def _protocol_of_path(request: Request) -> Protocol:
    path = request.url.path
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.startswith("/v1beta/"):
        return "gemini"
    return "openai"


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    message = {
        404: f"no route for {request.method} {request.url.path}",
        405: f"{request.method} is not allowed on {request.url.path}",
    }.get(exc.status_code, str(exc.detail))
    err = GatewayError(message, status=exc.status_code, code=code)
    return error_response(_protocol_of_path(request), err)


async def _unexpected(request: Request, exc: Exception) -> Response:
    # The last line of defence: log the trace here, never send it to the client.
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    err = GatewayError(
        "the gateway failed to handle this request", status=500, code="internal_error"
    )
    return error_response(_protocol_of_path(request), err)


def route_opens(route: RouteModel, sealing_key: bytes) -> bool:
    """Whether this engine can open the sealed keys of `route` (checks the first one)."""
    for model in route.models:
        for deployment in model.deployments:
            for credential in deployment.credentials:
                try:
                    unseal(sealing_key, credential.sealed_key, context=credential.id)
                except SealError:
                    return False
                return True
    return True


def create_upstream(
    settings: EngineSettings, transport: httpx.AsyncBaseTransport | None = None
) -> Upstream:
    """The provider client: httpx over a handed-in transport (tests), else by setting."""
    if transport is not None:
        return HttpxUpstream(settings, transport)
    if settings.upstream_client == "aiohttp":
        return AiohttpUpstream(settings, egress=settings.egress)
    return Http1Upstream(settings, egress=settings.egress)


def create_redis(settings: EngineSettings) -> Redis | None:
    """The engine's Redis client: a bounded pool, where a burst waits for a connection.

    An unbounded pool opens a connection per concurrent command and, at its
    cap, fails the command; here a command past the cap waits up to the
    socket timeout for a free connection, then fails like any Redis error
    (the callers fall back to what this replica knows).
    """
    if not settings.redis_url:
        return None
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=0.5,
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
    )
    return Redis.from_pool(pool)


def create_app(
    settings: EngineSettings,
    *,
    upstream_transport: httpx.AsyncBaseTransport | None = None,
    control_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """Build an engine. Tests hand in transports to reach in-process apps."""
    upstream = create_upstream(settings, upstream_transport)
    control_http = create_control_http(settings, transport=control_transport)
    # telemetry goes on a small lean pool of its own (tests: through their transport)
    events_http = (
        Http1Upstream(
            replace(settings, connect_timeout=2.0, idle_timeout=15.0, upstream_max_connections=8)
        )
        if control_transport is None
        else None
    )
    control = ControlClient(
        control_http, settings.control_url, settings.internal_secret, events=events_http
    )
    redis = create_redis(settings)
    sealing_key = derive_sealing_key(settings.internal_secret)
    shared = (
        SharedRouteCache(
            redis,
            keep_seconds=settings.route_max_stale_seconds,
            opens=lambda route: route_opens(route, sealing_key),
        )
        if redis is not None
        else None
    )
    routes = RouteCache(
        control.resolve,
        ttl=settings.route_ttl_seconds,
        max_stale=settings.route_max_stale_seconds,
        unknown_ttl=settings.unknown_key_ttl_seconds,
        maxsize=settings.route_cache_size,
        shared=shared,
    )
    metrics = EngineMetrics()
    board = HealthBoard(cooldown=settings.cooldown_seconds)

    telemetry = TelemetrySink(
        control.post_events,
        spool_dir=settings.spool_dir,
        batch_size=settings.telemetry_batch_size,
        flush_interval=settings.telemetry_flush_seconds,
        max_memory=settings.telemetry_max_memory,
        max_backoff=settings.telemetry_max_backoff_seconds,
    )

    def started(call: ClientCall) -> None:
        telemetry.emit_started(call.call_id, lambda: started_event(call))

    lane = RedisLane(settings.redis_url) if settings.redis_url else None
    limits = RateLimiter(lane)
    reservations = Reservations(lane, hold_seconds=settings.total_timeout + 60.0)

    def finished(rec: CallRecord) -> None:
        metrics.observe(rec)
        telemetry.emit(finished_event(rec))
        if rec.tpm is not None:
            limits.add_tokens(rec.token_id, rec.usage.total_tokens)
        reservations.settle(rec.call_id, rec.cost_usd)

    forwarder = Forwarder(
        Upstreams(upstream, board, settings, OpenedKeys(sealing_key)), finished, started
    )
    engine = Engine(
        settings=settings,
        routes=routes,
        forwarder=forwarder,
        metrics=metrics,
        control=control,
        telemetry=telemetry,
        limits=limits,
        reservations=reservations,
    )

    revocations = RevocationListener(redis, routes) if redis is not None else None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        telemetry.start()
        if revocations is not None:
            revocations.start()
        try:
            yield
        finally:
            # uvicorn has drained in-flight requests by now: their events are queued
            await telemetry.close()
            await limits.flush()
            await reservations.flush()
            if lane is not None:
                await lane.aclose()
            if revocations is not None:
                await revocations.close()
            await upstream.aclose()
            await control_http.aclose()
            if events_http is not None:
                await events_http.aclose()
            if redis is not None:
                await redis.aclose()

    hot = {
        "/v1/chat/completions": endpoints.chat_completions,
        "/v1/messages": endpoints.messages,
        "/v1/messages/count_tokens": endpoints.count_tokens,
        "/v1/embeddings": endpoints.embeddings,
        "/v1/images/generations": endpoints.images,
    }
    app = EngineApp(
        hot=hot,
        on_error=_unexpected,
        routes=[
            *(Route(path, handler, methods=["POST"]) for path, handler in hot.items()),
            Route("/v1beta/models/{target}", endpoints.gemini, methods=["POST"]),
            Route("/v1/models", endpoints.list_models, methods=["GET"]),
            Route("/healthz", endpoints.healthz, methods=["GET"]),
            Route("/readyz", endpoints.readyz, methods=["GET"]),
            Route("/metrics", endpoints.metrics, methods=["GET"]),
        ],
        exception_handlers={HTTPException: _http_error, Exception: _unexpected},
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.revocations = revocations
    return app
