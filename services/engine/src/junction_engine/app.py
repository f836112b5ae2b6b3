"""The engine's app factory: every dependency is built here or handed in."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

import httpx
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from junction_contracts import Route as RouteModel
from junction_contracts.errors import SealError
from junction_contracts.sealing import derive_sealing_key, unseal
from junction_engine import endpoints, gemini_endpoints, model_catalog, responses_endpoints
from junction_engine.admission import Admission
from junction_engine.asgi import EngineApp, protocol_of_path
from junction_engine.attempt import Upstreams
from junction_engine.breaker_sync import SharedBreakers
from junction_engine.breakers import BreakerPolicy
from junction_engine.call_log import log_call
from junction_engine.calls import CallRecord, ClientCall, finished_event, started_event
from junction_engine.client_protocol import speaks_gemini
from junction_engine.control_client import ControlClient, create_control_http
from junction_engine.errors import GatewayError
from junction_engine.forwarding import Forwarder
from junction_engine.gateway import Engine
from junction_engine.health_reports import HealthReporter
from junction_engine.metrics import EngineMetrics
from junction_engine.providers import Protocol
from junction_engine.rate_limits import RateLimiter
from junction_engine.readiness import Readiness
from junction_engine.redis_guard import RedisGuard
from junction_engine.redis_lane import RedisLane
from junction_engine.reservations import Reservations
from junction_engine.responses import error_response
from junction_engine.retry_budget import RetryBudget
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

if TYPE_CHECKING:
    from junction_engine.tracing import EngineTracing

log = logging.getLogger("junction.engine")


def _protocol_of_path(request: Request) -> Protocol:
    # Gemini's paths include /v1/models/... for its SDK's defaults (see client_protocol)
    return "gemini" if speaks_gemini(request) else protocol_of_path(request.url.path)


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
    short Redis timeout for a free connection, then fails like any Redis
    error (the callers fall back to what this replica knows). Connecting,
    reading and waiting share that one timeout and nothing is retried, so a
    frozen Redis holds a connection (and a waiter) for one timeout at most;
    redis-py closes a connection whose read timed out, so none comes back to
    the pool out of step.
    """
    if not settings.redis_url:
        return None
    timeout = settings.redis_timeout_ms / 1000
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )
    return Redis.from_pool(pool)


def provider_health(
    settings: EngineSettings, clock: Callable[[], float]
) -> tuple[HealthBoard, RetryBudget]:
    """The breakers' board and the retry budget, as the settings say."""
    policy = BreakerPolicy(
        consecutive=settings.breaker_failures,
        rate=settings.breaker_failure_rate,
        window=settings.breaker_window_seconds,
        min_volume=settings.breaker_min_calls,
        base_open=settings.cooldown_seconds,
        max_open=settings.breaker_max_open_seconds,
        probe_timeout=settings.first_byte_timeout + 30.0,
    )
    board = HealthBoard(cooldown=settings.cooldown_seconds, clock=clock, policy=policy)
    budget = RetryBudget(
        ratio=settings.retry_budget_ratio,
        floor=settings.retry_budget_floor,
        window=settings.retry_budget_window_seconds,
        clock=clock,
    )
    return board, budget


def start_tracing(settings: EngineSettings) -> EngineTracing | None:
    """The engine's tracer when an OTLP endpoint is configured, else None (and no import)."""
    if not settings.tracing.enabled:
        return None
    # imported here, not at the top: with tracing off no OpenTelemetry module is loaded
    from junction_engine.tracing import EngineTracing

    return EngineTracing(settings.tracing)


def create_app(
    settings: EngineSettings,
    *,
    upstream_transport: httpx.AsyncBaseTransport | None = None,
    control_transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
) -> Starlette:
    """Build an engine. Tests hand in transports to reach in-process apps.

    `clock` times breakers and the retry budget, `wall_clock` budget periods
    and holds (tests move them by hand).
    """
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
    redis_timeout = settings.redis_timeout_ms / 1000
    guard = RedisGuard(redis, timeout=redis_timeout) if redis is not None else None
    sealing_key = derive_sealing_key(settings.internal_secret)
    shared = (
        SharedRouteCache(
            guard,
            keep_seconds=settings.route_max_stale_seconds,
            opens=lambda route: route_opens(route, sealing_key),
        )
        if guard is not None
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
    admission = Admission.from_settings(settings)
    metrics.in_flight.set_function(lambda: admission.in_flight)
    board, budget = provider_health(settings, clock)
    metrics.watch_breakers(board.changes)

    telemetry = TelemetrySink(
        control.post_events,
        spool_dir=settings.spool_dir,
        batch_size=settings.telemetry_batch_size,
        flush_interval=settings.telemetry_flush_seconds,
        max_memory=settings.telemetry_max_memory,
        max_backoff=settings.telemetry_max_backoff_seconds,
    )
    metrics.watch(routes, telemetry)

    def started(call: ClientCall) -> None:
        telemetry.emit_started(call.call_id, lambda: started_event(call))

    lane = RedisLane(settings.redis_url, timeout=redis_timeout) if settings.redis_url else None
    limits = RateLimiter(lane)
    reservations = Reservations(lane, hold_seconds=settings.total_timeout + 60.0, clock=wall_clock)
    reporter = HealthReporter(
        control.post_health,
        engine_id=settings.engine_id or f"{socket.gethostname()}:{os.getpid()}",
        clock=clock,
        interval=settings.health_report_seconds,
    )
    board.listeners.append(reporter.listen)
    shared_breakers = (
        SharedBreakers(lane, board, interval=settings.breaker_sync_seconds) if lane else None
    )
    if shared_breakers is not None:
        board.listeners.append(shared_breakers.listen)

    call_log = settings.call_log

    def finished(rec: CallRecord) -> None:
        metrics.observe(rec)
        telemetry.emit(finished_event(rec))
        if call_log:
            log_call(rec)
        if rec.tpm is not None:
            limits.add_tokens(rec.token_id, rec.usage.total_tokens)
        reservations.settle(rec.call_id, rec.cost_usd)

    forwarder = Forwarder(
        Upstreams(upstream, board, settings, OpenedKeys(sealing_key)),
        finished,
        started,
        budget=budget,
        counters=metrics,
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
        admission=admission,
        tracing=start_tracing(settings),
    )

    revocations = (
        RevocationListener(redis, routes, timeout=redis_timeout) if redis is not None else None
    )
    readiness = Readiness(control, routes, redis=guard, revocations=revocations)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        telemetry.start()
        if revocations is not None:
            revocations.start()
        reporter.start()
        if shared_breakers is not None:
            shared_breakers.start()
        try:
            yield
        finally:
            if shared_breakers is not None:
                await shared_breakers.close()
            await reporter.close()
            # background route refreshes and probes first: nothing new starts
            await routes.aclose()
            await readiness.aclose()
            # uvicorn has drained in-flight requests by now: their events are queued
            await telemetry.close()
            log_call.flush()  # the lines of the drained calls
            if engine.tracing is not None:
                await engine.tracing.aclose()  # the spans of the drained calls are queued
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
            if guard is not None:
                await guard.aclose()
            if redis is not None:
                await redis.aclose()

    hot = {
        "/v1/chat/completions": endpoints.chat_completions,
        "/v1/messages": endpoints.messages,
        "/v1/messages/count_tokens": endpoints.count_tokens,
        "/v1/embeddings": endpoints.embeddings,
        "/v1/images/generations": endpoints.images,
        "/v1/responses": responses_endpoints.responses,
        "/v1/completions": responses_endpoints.completions,
    }
    app = EngineApp(
        hot=hot,
        on_error=_unexpected,
        admission=admission,
        body_timeout=settings.body_timeout_seconds,
        on_shed=metrics.requests_shed.inc,
        routes=[
            *(Route(path, handler, methods=["POST"]) for path, handler in hot.items()),
            # Gemini's API under /v1beta/ and, for its SDK's default settings, /v1/
            Route("/v1beta/models", model_catalog.gemini_models, methods=["GET"]),
            Route("/v1beta/models/{name:path}", model_catalog.gemini_model, methods=["GET"]),
            Route("/v1beta/models/{target:path}", gemini_endpoints.gemini, methods=["POST"]),
            Route("/v1/models", model_catalog.list_models, methods=["GET"]),
            Route("/v1/models/{name:path}", model_catalog.get_model, methods=["GET"]),
            Route("/v1/models/{target:path}", gemini_endpoints.gemini, methods=["POST"]),
            Route("/healthz", endpoints.healthz, methods=["GET"]),
            Route("/readyz", endpoints.readyz, methods=["GET"]),
            Route("/metrics", endpoints.metrics, methods=["GET"]),
        ],
        exception_handlers={HTTPException: _http_error, Exception: _unexpected},
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.health_reports = reporter
    app.state.shared_breakers = shared_breakers
    app.state.revocations = revocations
    app.state.readiness = readiness
    return app
