"""Routes of the admin API.

Each domain contributes its own list of routes (``<domain>/routes.py``);
they are mounted here under ``/api/v1``. Anything else under ``/api`` is a
JSON 404.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from junction_control.context import app_context
from junction_control.errors import DatabaseUnavailable


async def health(request: Request) -> Response:
    """200 when the database answers, 503 otherwise."""
    try:
        await app_context(request).database.ping()
    except DatabaseUnavailable:
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


def admin_routes() -> list[BaseRoute]:
    """Every route of the admin API."""
    v1: list[BaseRoute] = [
        Route("/health", health, methods=["GET"]),
        # domain routes slot in here, e.g. *tokens.routes.routes()
    ]
    return [Mount("/api/v1", routes=v1)]
