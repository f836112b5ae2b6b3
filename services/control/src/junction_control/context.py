"""What request handlers receive from the app factory, kept on ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request

from junction_contracts.signing import SignatureVerifier
from junction_control.db import Database
from junction_control.internal.metrics import InternalMetrics
from junction_control.internal.replays import SharedReplays
from junction_control.internal.sealed_keys import SealedKeys
from junction_control.rbac.authorizer import Authorizer
from junction_control.route_changes import RouteChanges
from junction_control.settings import ControlSettings

if TYPE_CHECKING:  # imported only when tracing is on
    from junction_control.internal.tracing import InternalTracing


@dataclass(frozen=True, slots=True)
class AppContext:
    """Dependencies both APIs share."""

    settings: ControlSettings
    database: Database


@dataclass(frozen=True, slots=True)
class InternalContext(AppContext):
    """Dependencies of the internal API: signature checks, sealed provider keys, metrics."""

    verifier: SignatureVerifier
    #: the replay cache shared with other replicas (None: this process's memory alone)
    replays: SharedReplays | None
    sealed_keys: SealedKeys = field(repr=False)
    metrics: InternalMetrics
    #: spans of resolve and ingest, when an OTLP endpoint is configured
    tracing: InternalTracing | None = None


@dataclass(frozen=True, slots=True)
class AdminContext(AppContext):
    """Dependencies of the admin API: the Casbin authorizer."""

    authorizer: Authorizer
    route_changes: RouteChanges


def app_context(request: Request) -> AppContext:
    """The context the app factory stored for this request's app."""
    ctx = request.app.state.context
    if not isinstance(ctx, AppContext):  # pragma: no cover - set by the app factories
        raise TypeError("app.state.context is not an AppContext")
    return ctx


def internal_context(request: Request) -> InternalContext:
    """The internal API's context."""
    ctx = app_context(request)
    if not isinstance(ctx, InternalContext):  # pragma: no cover - set by the app factory
        raise TypeError("app.state.context is not an InternalContext")
    return ctx


def admin_context(request: Request) -> AdminContext:
    """The admin API's context."""
    ctx = app_context(request)
    if not isinstance(ctx, AdminContext):  # pragma: no cover - set by the app factory
        raise TypeError("app.state.context is not an AdminContext")
    return ctx
