"""HTTP handlers of the engine: thin, each one parse -> authorize -> forward."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from junction_contracts import Route
from junction_engine.calls import ClientCall
from junction_engine.errors import BadRequest, GatewayError
from junction_engine.gateway import Engine
from junction_engine.json_body import JsonBody
from junction_engine.policy import pick_model
from junction_engine.providers import Operation, Protocol
from junction_engine.readiness import Readiness
from junction_engine.request_identity import identity_of
from junction_engine.responses import CONNECTION_EXTENSION, json_response

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


#: the connection extension's ``watch``: call this (or, given None, nothing) if the client leaves
Watch = Callable[[Callable[[], None] | None], None]


async def _serve(request: Request, protocol: Protocol, build: CallBuilder) -> Response:
    """Authorize, read the body, build the call and forward it; refusals in `protocol`."""
    engine = _engine(request)
    tracing = engine.tracing
    trace = tracing.begin(request.scope, protocol) if tracing is not None else None
    try:
        route = await engine.authorize(request, trace)
        body = await engine.read_json(request)
        call = build(route, body)
        identity = call.identity = identity_of(request.scope)
        if identity.generated:
            call.call_id = identity.request_id  # one id for the client, the logs and the record
        if trace is not None:
            call.trace = trace
            trace.called(call)
        await engine.enforce_limits(call)
    except GatewayError as err:
        if trace is not None:
            trace.refused(err)
        return engine.refuse(protocol, err)
    return await _forward_unless_gone(request, engine, call, protocol)


async def _forward_unless_gone(
    request: Request, engine: Engine, call: ClientCall, protocol: Protocol
) -> Response:
    """Forward, but stop at once if the client disconnects before the answer starts.

    A client that leaves must not cost another billable attempt upstream:
    its disconnect cancels this handler. The engine's own connections say
    when they are lost (the connection extension's ``watch``); under another
    server a watcher task waits for the disconnect message instead. Once a
    streaming response exists, its body watches for the disconnect and the
    attempt records the call as cancelled.
    """
    handler = asyncio.current_task()
    assert handler is not None
    gone = False

    def leave() -> None:
        nonlocal gone
        gone = True
        handler.cancel()

    watch = _watcher_of(request.scope)
    watcher: asyncio.Task[None] | None = None
    if watch is not None:
        watch(leave)
    else:

        async def wait_for_disconnect() -> None:
            await _disconnected(request)
            leave()

        watcher = asyncio.get_running_loop().create_task(wait_for_disconnect())
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
        if watch is not None:
            watch(None)
        elif watcher is not None:
            watcher.cancel()


def _watcher_of(scope: Scope) -> Watch | None:
    """The connection's ``watch`` when the engine's own HTTP protocol serves it."""
    connection = (scope.get("extensions") or {}).get(CONNECTION_EXTENSION)
    return connection.get("watch") if connection is not None else None


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


async def healthz(request: Request) -> Response:
    """Liveness: the process answers. No I/O, so a slow dependency never restarts it."""
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Readiness: `ready`, `degraded` (serving from local state) or `not_ready` (503).

    The states and why a degraded replica stays in rotation are in
    `readiness.py`; a poll costs no call to the control plane or Redis.
    """
    readiness: Readiness = request.app.state.readiness
    report = await readiness.report()
    return json_response(report.body(), status=report.http_status)


async def metrics(request: Request) -> Response:
    engine = _engine(request)
    return Response(engine.metrics.render(), media_type=engine.metrics.content_type)
