"""App factories: the admin API and the internal API, each its own Starlette app.

Both take the settings and, optionally, a `Database` to share (one process
serving both apps passes the same one). An app that creates its own database
applies migrations at start and closes the pool at shutdown; a shared
database is migrated and closed by whoever created it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware

from junction_contracts.sealing import derive_sealing_key
from junction_contracts.signing import SignatureVerifier
from junction_control.admin.errors import ADMIN_EXCEPTION_HANDLERS
from junction_control.admin.routes import admin_routes
from junction_control.context import AdminContext, InternalContext
from junction_control.db import Database
from junction_control.health import routes as health_routes
from junction_control.internal.replays import SharedReplays
from junction_control.internal.routes import internal_routes
from junction_control.internal.sealed_keys import SealedKeys
from junction_control.metrics import AdminRequestMetrics, ControlMetrics
from junction_control.rbac.authorizer import Authorizer
from junction_control.responses import EXCEPTION_HANDLERS
from junction_control.route_changes import RouteChanges
from junction_control.settings import ControlSettings

if TYPE_CHECKING:
    from junction_control.internal.tracing import InternalTracing


def start_tracing(settings: ControlSettings) -> InternalTracing | None:
    """The internal API's tracer when an OTLP endpoint is configured, else None (no import)."""
    if not settings.tracing.enabled:
        return None
    # imported here, not at the top: with tracing off no OpenTelemetry module is loaded
    from junction_control.internal.tracing import InternalTracing

    return InternalTracing(settings.tracing)


def create_internal_app(
    settings: ControlSettings,
    *,
    database: Database | None = None,
    metrics: ControlMetrics | None = None,
) -> Starlette:
    """The internal API (route resolve, telemetry, health, and the process's metrics).

    With an OTLP endpoint configured, resolve and ingest are traced; the
    spans still queued are exported at shutdown. With ``JUNCTION_REDIS_URL``
    the signatures' replay cache is shared with every other replica through Redis.
    """
    db = database or Database(settings.database_url)
    metrics = metrics or ControlMetrics()
    metrics.watch_database(db)
    tracing = start_tracing(settings)
    verifier = SignatureVerifier(settings.internal_secret)
    # with Redis, replicas share the nonces they saw (`internal.replays`)
    replays = (
        SharedReplays.from_url(settings.redis_url, verifier.window_seconds)
        if settings.redis_url
        else None
    )
    closers = [
        c for c in (tracing.aclose if tracing else None, replays.close if replays else None) if c
    ]
    app = Starlette(
        routes=[*internal_routes(), *health_routes.internal_routes()],
        exception_handlers=dict(EXCEPTION_HANDLERS),
        lifespan=_lifespan(db, owned=database is None, also_close=closers),
    )
    app.state.context = InternalContext(
        settings=settings,
        database=db,
        verifier=verifier,
        replays=replays,
        sealed_keys=SealedKeys(settings.keyring, derive_sealing_key(settings.internal_secret)),
        metrics=metrics,
        tracing=tracing,
    )
    return app


def create_admin_app(
    settings: ControlSettings,
    *,
    database: Database | None = None,
    metrics: ControlMetrics | None = None,
) -> Starlette:
    """The admin API under ``/api/v1``; its requests are counted in `metrics`.

    One process passes the internal API's `metrics`, which serves them.
    """
    db = database or Database(settings.database_url)
    route_changes = RouteChanges(settings.redis_url)
    app = Starlette(
        routes=admin_routes(),
        middleware=[Middleware(AdminRequestMetrics, metrics=metrics or ControlMetrics())],
        exception_handlers={**EXCEPTION_HANDLERS, **ADMIN_EXCEPTION_HANDLERS},
        lifespan=_lifespan(db, owned=database is None, also_close=[route_changes.close]),
    )
    app.state.context = AdminContext(
        settings=settings, database=db, authorizer=Authorizer(), route_changes=route_changes
    )
    return app


def _lifespan(
    database: Database,
    *,
    owned: bool,
    also_close: Sequence[Callable[[], Awaitable[None]]] = (),
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if owned:
            await database.migrate()
        try:
            yield
        finally:
            for close in also_close:
                await close()
            if owned:
                await database.dispose()

    return lifespan
