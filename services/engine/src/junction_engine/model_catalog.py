"""The models a key may call, listed or fetched one by one, in the caller's own shape.

- ``GET /v1/models`` and ``GET /v1/models/{model}``: OpenAI's list and model
  object, Anthropic's when ``anthropic-version`` is sent, Gemini's when the
  caller is a Google SDK (see `client_protocol`: the ``google-genai`` SDK
  calls these paths with its default settings);
- ``GET /v1beta/models`` and ``GET /v1beta/models/{model}``: Gemini's
  ``models.list`` and ``models.get``.

A Gemini model is ``models/<name>``, version ``001`` (a Junction model has
one), with the methods its deployments can serve: ``generateContent`` (every
provider type), ``countTokens`` (Gemini deployments),
``embedContent``/``batchEmbedContents`` (OpenAI-style and Gemini ones).
Token limits are not known to the gateway and are left out, as proto3 JSON
leaves out unset fields. The Gemini list pages like the API: ``pageSize``
(50 by default, at most 1000) and ``pageToken`` (the ``nextPageToken`` of the
previous page, absent on the last one).
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from junction_contracts import ModelRoute, Route
from junction_engine.client_protocol import models_caller
from junction_engine.errors import BadRequest, GatewayError, NotFound
from junction_engine.gateway import Engine
from junction_engine.policy import visible_models
from junction_engine.providers import Protocol, offers, protocol_of
from junction_engine.responses import json_response

_PAGE_SIZE = 50
_MAX_PAGE_SIZE = 1000
#: POST actions of `models/{model}:{action}`: a GET of one is a wrong method, not a name
_ACTIONS = frozenset(
    {"generateContent", "streamGenerateContent", "countTokens", "embedContent"}
    | {"batchEmbedContents"}
)


async def list_models(request: Request) -> Response:
    """``GET /v1/models``: OpenAI's list, or Anthropic's or Gemini's for their SDKs."""
    caller = models_caller(request)
    if caller == "gemini":
        return await gemini_models(request)
    try:
        models = visible_models(await _engine(request).authorize(request))
    except GatewayError as err:
        return _engine(request).refuse(caller, err)
    if caller == "anthropic":
        data = [anthropic_model(m) for m in models]
        return json_response(
            {
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        )
    return json_response({"object": "list", "data": [openai_model(m) for m in models]})


async def get_model(request: Request) -> Response:
    """``GET /v1/models/{model}``: one model, in the caller's shape."""
    caller = models_caller(request)
    if caller == "gemini":
        return await gemini_model(request)
    try:
        model = _one(await _engine(request).authorize(request), str(request.path_params["name"]))
    except GatewayError as err:
        return _engine(request).refuse(caller, err)
    return json_response(anthropic_model(model) if caller == "anthropic" else openai_model(model))


async def gemini_models(request: Request) -> Response:
    """Gemini ``models.list``: ``{"models": [...], "nextPageToken"?}``."""
    try:
        route = await _engine(request).authorize(request)
        start, size = _page(request)
    except GatewayError as err:
        return _engine(request).refuse("gemini", err)
    models = visible_models(route)
    page = models[start : start + size]
    body: dict[str, Any] = {"models": [gemini_model_object(m) for m in page]}
    if start + size < len(models):
        body["nextPageToken"] = str(start + size)
    return json_response(body)


async def gemini_model(request: Request) -> Response:
    """Gemini ``models.get``: one ``Model``."""
    name = str(request.path_params["name"]).removeprefix("models/")
    try:
        if name.rpartition(":")[2] in _ACTIONS:
            raise GatewayError(
                f"{request.method} is not allowed on {request.url.path}; send a POST",
                status=405,
                code="method_not_allowed",
            )
        model = _one(await _engine(request).authorize(request), name)
    except GatewayError as err:
        return _engine(request).refuse("gemini", err)
    return json_response(gemini_model_object(model))


def openai_model(model: ModelRoute) -> dict[str, Any]:
    """OpenAI's model object."""
    return {
        "id": model.name,
        "object": "model",
        "created": model.created,
        "owned_by": model.owned_by,
    }


def anthropic_model(model: ModelRoute) -> dict[str, Any]:
    """Anthropic's model object."""
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(model.created))
    return {"type": "model", "id": model.name, "display_name": model.name, "created_at": created}


def gemini_model_object(model: ModelRoute) -> dict[str, Any]:
    """Gemini's ``Model`` resource for a Junction model."""
    return {
        "name": f"models/{model.name}",
        "baseModelId": model.name,
        "version": "001",
        "displayName": model.name,
        "supportedGenerationMethods": _methods(model),
    }


def _methods(model: ModelRoute) -> list[str]:
    protocols: set[Protocol] = {protocol_of(d.provider) for d in model.deployments}
    methods = ["generateContent"]
    if "gemini" in protocols:
        methods.append("countTokens")
    if any(offers(d.provider, "embeddings") for d in model.deployments):
        methods += ["embedContent", "batchEmbedContents"]
    return methods


def _one(route: Route, name: str) -> ModelRoute:
    model = next((m for m in visible_models(route) if m.name == name), None)
    if model is None:
        raise NotFound(
            f"the model '{name}' does not exist or you do not have access to it", param="model"
        )
    return model


def _page(request: Request) -> tuple[int, int]:
    """(first index, page size) from ``pageToken`` and ``pageSize``."""
    raw_size = request.query_params.get("pageSize") or "0"
    token = request.query_params.get("pageToken") or "0"
    if not raw_size.lstrip("-").isdigit():
        raise BadRequest("pageSize must be an integer", param="pageSize", code="invalid_page_size")
    if not token.isdigit():
        raise BadRequest(
            "pageToken is not one this API handed out", param="pageToken", code="invalid_page_token"
        )
    size = int(raw_size)
    if size < 0:
        raise BadRequest(
            "pageSize must not be negative", param="pageSize", code="invalid_page_size"
        )
    return int(token), min(size or _PAGE_SIZE, _MAX_PAGE_SIZE)


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine
