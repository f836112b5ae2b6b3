"""Responses in the caller's own protocol: errors and JSON bodies."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from junction_engine.errors import GatewayError
from junction_engine.json_body import dump_json
from junction_engine.providers import Protocol
from junction_protocols.errors import error_for


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        dump_json(data), status_code=status, headers=headers, media_type="application/json"
    )


def error_response(protocol: Protocol, err: GatewayError) -> Response:
    """Render a refusal as JSON in `protocol`'s error shape, with a stable code."""
    body = error_for(protocol, err.status, err.message, code=err.code)
    if protocol == "openai" and err.param is not None:
        body["error"]["param"] = err.param
    return json_response(body, err.status, headers=err.headers)
