"""Routes of the admin API.

Each domain declares its endpoints in ``<domain>/routes.py`` (a `Router`);
they are collected here, mounted under ``/api/v1`` and described by
``GET /api/v1/openapi.json``. Anything else under ``/api`` is a JSON 404.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from junction_control.admin.openapi import build_openapi
from junction_control.admin.registry import Endpoint
from junction_control.alerts.routes import router as alerts
from junction_control.audit.routes import router as audit
from junction_control.auth.routes import router as auth
from junction_control.context import app_context
from junction_control.credits.routes import router as credits
from junction_control.errors import DatabaseUnavailable
from junction_control.health.routes import router as breakers
from junction_control.models.routes import router as models
from junction_control.providers.routes import router as providers
from junction_control.tenants.routes import router as tenants
from junction_control.tokens.routes import router as tokens
from junction_control.usage.routes import router as usage
from junction_control.users.routes import router as members


def endpoints() -> list[Endpoint]:
    """Every endpoint of the admin API, in the order of the document."""
    routers = (
        auth,
        tenants,
        members,
        tokens,
        providers,
        breakers,
        models,
        usage,
        credits,
        alerts,
        audit,
    )
    return [ep for router in routers for ep in router.endpoints]


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI document (built once: the endpoints are fixed at import)."""
    return build_openapi(endpoints())


async def health(request: Request) -> Response:
    """200 when the database answers, 503 otherwise."""
    try:
        await app_context(request).database.ping()
    except DatabaseUnavailable:
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


async def openapi(request: Request) -> Response:
    """The OpenAPI 3.1 document of ``/api/v1``."""
    return JSONResponse(openapi_document())


def admin_routes() -> list[BaseRoute]:
    """Every route of the admin API."""
    v1: list[BaseRoute] = [
        Route("/health", health, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        *(ep.route() for ep in endpoints()),
    ]
    return [Mount("/api/v1", routes=v1)]
