"""The OpenAPI 3.1 document of the admin API, built from the route registry.

Request and response schemas come from the same pydantic models the
endpoints parse and render with; error responses share one schema. The
document is built once per app.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from junction_control.admin.registry import Endpoint
from junction_control.admin.schemas import ErrorBody

REF_TEMPLATE = "#/components/schemas/{model}"
API_PREFIX = "/api/v1"
_ERROR_TEXT = {
    400: "Malformed request",
    401: "No valid session",
    403: "The role does not allow this",
    404: "Not found (or another tenant's)",
    409: "Conflicts with an existing row",
    413: "Body too large",
    422: "A field is invalid",
}

JsonMode = Literal["validation", "serialization"]


def build_openapi(endpoints: Sequence[Endpoint], *, version: str = "1") -> dict[str, Any]:
    """The OpenAPI document describing `endpoints`."""
    models: list[tuple[type[BaseModel], JsonMode]] = [(ErrorBody, "serialization")]
    for ep in endpoints:
        if ep.body is not None:
            models.append((ep.body, "validation"))
        if ep.response is not None:
            models.append((ep.response, "serialization"))
    refs, defs = models_json_schema(list(dict.fromkeys(models)), ref_template=REF_TEMPLATE)
    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        paths.setdefault(API_PREFIX + ep.path, {})[ep.method.lower()] = _operation(ep, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Junction admin API", "version": version},
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"session": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation(ep: Endpoint, refs: Mapping[tuple[Any, JsonMode], dict[str, Any]]) -> dict[str, Any]:
    error_ref = refs[(ErrorBody, "serialization")]
    op: dict[str, Any] = {
        "operationId": ep.operation_id,
        "summary": ep.summary,
        "tags": [ep.tag],
        "parameters": _parameters(ep),
    }
    if ep.permission is not None:
        op["security"] = [{"session": []}]
    if ep.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(ep.body, "validation")]}},
        }
    responses: dict[str, Any] = {}
    if ep.produces is not None:
        responses[str(ep.status)] = {
            "description": "OK (a download)",
            "content": {ep.produces: {"schema": {"type": "string"}}},
        }
    elif ep.response is None:
        responses[str(ep.status)] = {"description": "Done"}
    else:
        responses[str(ep.status)] = {
            "description": "OK",
            "content": {"application/json": {"schema": refs[(ep.response, "serialization")]}},
        }
    for status in _error_statuses(ep):
        responses[str(status)] = {
            "description": _ERROR_TEXT[status],
            "content": {"application/json": {"schema": error_ref}},
        }
    op["responses"] = responses
    return op


def _parameters(ep: Endpoint) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in ep.path_params
    ]
    if ep.query is not None:
        schema = ep.query.model_json_schema()
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in required,
                    "schema": _without_null(prop),
                }
            )
    return params


def _without_null(prop: dict[str, Any]) -> dict[str, Any]:
    # an optional query parameter is simply left out; "null" has no spelling in a URL
    options = prop.get("anyOf")
    if options is None:
        return {k: v for k, v in prop.items() if k != "title"}
    kept = [o for o in options if o.get("type") != "null"]
    rest = {k: v for k, v in prop.items() if k not in ("anyOf", "title", "default")}
    return {**rest, **kept[0]} if len(kept) == 1 else {**rest, "anyOf": kept}


def _error_statuses(ep: Endpoint) -> list[int]:
    statuses: set[int] = set(ep.errors)
    if ep.permission is not None:
        statuses |= {401, 404}
        if ep.permission.obj is not None:
            statuses.add(403)
    if ep.path_params:
        statuses.add(404)
    if ep.query is not None:
        statuses |= {400, 422}
    if ep.body is not None:
        statuses |= {400, 409, 413, 422}
    if ep.method in ("PATCH", "DELETE") or (ep.method == "POST" and ep.path_params):
        statuses |= {400, 409}
    return sorted(statuses)
