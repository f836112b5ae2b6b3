"""Endpoints of provider health.

Internal (engine -> control, signed):
    POST /internal/v1/health/breakers   a batch of breaker changes -> 202 {"accepted", "rejected"}

Admin API (same permission as reading the provider):
    GET /api/v1/tenants/{tenant_id}/providers/{provider_id}/health
"""

from __future__ import annotations

import json

from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from junction_contracts.errors import ContractError
from junction_contracts.health import HEALTH_PATH, read_health_batch
from junction_control.admin.access import requires
from junction_control.admin.registry import Call, Router
from junction_control.context import internal_context
from junction_control.health import service
from junction_control.health.schemas import HealthOut
from junction_control.internal.signature import signed
from junction_control.providers.service import get_provider_by_id
from junction_control.responses import error_response

router = Router("providers")


@router.add(
    "GET",
    "/tenants/{tenant_id}/providers/{provider_id}/health",
    summary="The provider's health: breaker states of its deployments and credentials",
    permission=requires("providers", "read"),
    response=HealthOut,
)
async def get_provider_health(call: Call) -> HealthOut:
    provider = await get_provider_by_id(
        call.session, call.access.tenant_id, call.path("provider_id")
    )
    return await service.provider_health(call.session, provider)


async def breaker_reports(request: Request, body: bytes) -> Response:
    """Store a batch of breaker changes; 202 with how many were kept and refused."""
    ctx = internal_context(request)
    try:
        reports = read_health_batch(json.loads(body))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return error_response(400, "invalid_request", "body must be a JSON health batch")
    except ContractError as exc:
        return error_response(400, "invalid_request", str(exc))
    try:
        async with ctx.database.session() as session:
            result = await service.ingest(session, reports)
            await session.commit()
    except IntegrityError:
        # two batches about one new target at once: the engine sends it again
        return error_response(503, "unavailable", "concurrent reports; retry")
    return JSONResponse({"accepted": result.accepted, "rejected": result.rejected}, status_code=202)


def internal_routes() -> list[BaseRoute]:
    """The internal API's health routes; each POST goes through `signed`."""
    return [Route(HEALTH_PATH, signed(breaker_reports), methods=["POST"])]
