"""HTTP handlers of the engine: thin, each one parse -> authorize -> forward."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from junction_contracts import Route
from junction_engine.calls import ClientCall
from junction_engine.errors import BadRequest, GatewayError, NotFound
from junction_engine.gateway import Engine
from junction_engine.json_body import JsonBody
from junction_engine.policy import pick_model, visible_models
from junction_engine.providers import Operation, Protocol
from junction_engine.responses import json_response

_PASSED_ON_ANTHROPIC = ("anthropic-beta", "anthropic-version")


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _require_model(data: dict[str, Any]) -> str:
    model = data.get("model")
    if model is None:
        raise BadRequest("you must provide a model parameter", param="model", code="missing_model")
    if not isinstance(model, str) or not model:
        raise BadRequest("'model' must be a non-empty string", param="model", code="invalid_model")
    return model


def _require_list(data: dict[str, Any], field: str) -> None:
    value = data.get(field)
    if value is None:
        raise BadRequest(f"'{field}' is a required property", param=field, code=f"missing_{field}")
    if not isinstance(value, list) or not value:
        raise BadRequest(
            f"'{field}' must be a non-empty array", param=field, code=f"invalid_{field}"
        )


def _stream_flag(data: dict[str, Any]) -> bool:
    stream = data.get("stream", False)
    if stream is None:
        return False
    if not isinstance(stream, bool):
        raise BadRequest("'stream' must be a boolean", param="stream", code="invalid_stream")
    return stream


CallBuilder = Callable[[Route, JsonBody], ClientCall]


async def _serve(request: Request, protocol: Protocol, build: CallBuilder) -> Response:
    """Authorize, read the body, build the call and forward it; refusals in `protocol`."""
    engine = _engine(request)
    try:
        route = await engine.authorize(request)
        body = await engine.read_json(request)
        call = build(route, body)
        await engine.enforce_limits(call)
    except GatewayError as err:
        return engine.refuse(protocol, err)
    return await _forward_unless_gone(request, engine, call, protocol)


async def _forward_unless_gone(
    request: Request, engine: Engine, call: ClientCall, protocol: Protocol
) -> Response:
    """Forward, but stop at once if the client disconnects before the answer starts.

    A client that leaves must not cost another billable attempt upstream:
    a watcher cancels this handler when the disconnect arrives. Once a
    streaming response exists, Starlette itself watches for the disconnect
    and the attempt records the call as cancelled.
    """
    handler = asyncio.current_task()
    assert handler is not None
    gone = False

    async def watch() -> None:
        nonlocal gone
        await _disconnected(request)
        gone = True
        handler.cancel()

    watcher = asyncio.get_running_loop().create_task(watch())
    try:
        return await engine.forwarder.forward(call)
    except GatewayError as err:
        return engine.refuse(protocol, err)
    except asyncio.CancelledError:
        if not gone:
            raise  # cancelled from outside (shutdown): not ours to swallow
        handler.uncancel()
        return Response(status_code=499)
    finally:
        watcher.cancel()


async def _disconnected(request: Request) -> None:
    # the body has been read: the next message can only be the disconnect
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def chat_completions(request: Request) -> Response:
    """OpenAI `POST /v1/chat/completions`."""

    def build(route: Route, body: JsonBody) -> ClientCall:
        model = pick_model(route, _require_model(body.data))
        _require_list(body.data, "messages")
        options = body.data.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        return ClientCall(
            client="openai",
            route=route,
            model=model,
            body=body,
            stream=_stream_flag(body.data),
            include_usage=include_usage,
        )

    return await _serve(request, "openai", build)


async def embeddings(request: Request) -> Response:
    """OpenAI `POST /v1/embeddings` (to providers that offer embeddings)."""
    return await _serve(request, "openai", _openai_call("embeddings", required="input"))


async def images(request: Request) -> Response:
    """OpenAI `POST /v1/images/generations` (to providers that offer images)."""
    return await _serve(request, "openai", _openai_call("images", required="prompt"))


def _openai_call(operation: Operation, *, required: str) -> CallBuilder:
    def build(route: Route, body: JsonBody) -> ClientCall:
        model = pick_model(route, _require_model(body.data))
        if body.data.get(required) in (None, "", []):
            raise BadRequest(
                f"'{required}' is a required property", param=required, code=f"missing_{required}"
            )
        return ClientCall(
            client="openai", route=route, model=model, body=body, stream=False, operation=operation
        )

    return build


async def messages(request: Request) -> Response:
    """Anthropic `POST /v1/messages`."""
    return await _serve(request, "anthropic", _anthropic_call(request, "chat"))


async def count_tokens(request: Request) -> Response:
    """Anthropic `POST /v1/messages/count_tokens` (Anthropic and Gemini providers)."""
    return await _serve(request, "anthropic", _anthropic_call(request, "count_tokens"))


def _anthropic_call(request: Request, operation: Operation) -> CallBuilder:
    passed = {h: v for h in _PASSED_ON_ANTHROPIC if (v := request.headers.get(h))}

    def build(route: Route, body: JsonBody) -> ClientCall:
        model = pick_model(route, _require_model(body.data))
        _require_list(body.data, "messages")
        stream = operation == "chat" and _stream_flag(body.data)
        return ClientCall(
            client="anthropic",
            route=route,
            model=model,
            body=body,
            stream=stream,
            include_usage=True,
            passthrough_headers=passed,
            operation=operation,
        )

    return build


_GEMINI_ACTIONS: dict[str, tuple[Operation, bool]] = {
    "generateContent": ("chat", False),
    "streamGenerateContent": ("chat", True),
    "countTokens": ("count_tokens", False),
}


async def gemini(request: Request) -> Response:
    """Gemini `POST /v1beta/models/{model}:generateContent|streamGenerateContent|countTokens`."""
    model_name, _, action = str(request.path_params["target"]).rpartition(":")
    array = request.query_params.get("alt") != "sse"

    def build(route: Route, body: JsonBody) -> ClientCall:
        if action not in _GEMINI_ACTIONS or not model_name:
            raise NotFound(f"no route for {request.url.path}", code="not_found")
        operation, stream = _GEMINI_ACTIONS[action]
        model = pick_model(route, model_name.removeprefix("models/"))
        if operation == "chat":
            _require_list(body.data, "contents")
        return ClientCall(
            client="gemini",
            route=route,
            model=model,
            body=body,
            stream=stream,
            include_usage=True,
            operation=operation,
            json_array_stream=stream and array,
        )

    return await _serve(request, "gemini", build)


async def list_models(request: Request) -> Response:
    """`GET /v1/models`: OpenAI's list shape, or Anthropic's when the caller speaks it."""
    engine = _engine(request)
    anthropic = "anthropic-version" in request.headers
    protocol: Protocol = "anthropic" if anthropic else "openai"
    try:
        route = await engine.authorize(request)
    except GatewayError as err:
        return engine.refuse(protocol, err)
    models = visible_models(route)
    if anthropic:
        data = [
            {
                "type": "model",
                "id": m.name,
                "display_name": m.name,
                "created_at": _rfc3339(m.created),
            }
            for m in models
        ]
        return json_response(
            {
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        )
    return json_response(
        {
            "object": "list",
            "data": [
                {"id": m.name, "object": "model", "created": m.created, "owned_by": m.owned_by}
                for m in models
            ],
        }
    )


def _rfc3339(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready when the control plane answers, or when cached routes can carry an outage.

    Pulling every replica out of rotation because the control plane is down
    would turn its outage into a full one; known keys still work from cache.
    """
    engine = _engine(request)
    control = await engine.control.ready()
    ready = control or engine.routes.size > 0
    return json_response(
        {
            "status": "ready" if control else ("degraded" if ready else "unavailable"),
            "control_plane": control,
            "cached_routes": engine.routes.size,
        },
        status=200 if ready else 503,
    )


async def metrics(request: Request) -> Response:
    engine = _engine(request)
    return Response(engine.metrics.render(), media_type=engine.metrics.content_type)
