"""OpenAI `POST /v1/responses` and the legacy `POST /v1/completions`.

Each is served one of two ways, chosen per call from the model's deployments:

- natively, when every deployment offers the surface (an `openai` provider:
  `providers.offers`): the body goes upstream as it came, but for the model
  name and, for the Responses API, `store: false`; usage is read from the
  provider's own answer (`response.completed` in a stream);
- otherwise as a chat call: the request is translated to Chat Completions
  (`responses_chat`, `completions_chat`), takes the usual call path (any
  provider type, failover, limits, usage and billing from the chat answer),
  and the answer is translated back (`reshaped_answers`).

All or nothing, because one call fails over between its deployments with
one body: a model whose deployments are all OpenAI's is forwarded as is, any
other mix goes through chat on every deployment.

The Responses API is served statelessly, whichever way: `store: true`,
`previous_response_id`, `conversation` and `background: true` are refused
with 400 `response_storage_unsupported`, and a native call is sent with
`store: false` so no provider keeps what the gateway could not give back.
Built-in tools (web search, file search, computer use…) cannot be run by a
translated provider: 400 `unsupported_tool` on the chat path, passed to the
provider on the native one.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from junction_contracts import ModelRoute, Route
from junction_engine.calls import ClientCall
from junction_engine.endpoints import _require_model, _serve, _stream_flag
from junction_engine.errors import BadRequest
from junction_engine.json_body import JsonBody, dump_json, parse_object
from junction_engine.policy import pick_model
from junction_engine.providers import Operation, offers
from junction_engine.reshaped_answers import reshape
from junction_protocols.completions_chat import (
    chat_response_to_completion,
    completions_request_to_chat,
)
from junction_protocols.completions_chat_stream import ChatStreamToCompletions
from junction_protocols.errors import ConversionError
from junction_protocols.reshaped_stream import ChatSSEReshaper
from junction_protocols.responses_chat import (
    StatefulRequest,
    UnsupportedTool,
    chat_response_to_responses,
    check_stateless,
    responses_request_to_chat,
)
from junction_protocols.responses_chat_stream import ChatStreamToResponses


def native(model: ModelRoute, operation: Operation) -> bool:
    """Whether every deployment of `model` offers `operation` itself."""
    return all(offers(d.provider, operation) for d in model.deployments)


def _refused(exc: ConversionError) -> BadRequest:
    if isinstance(exc, StatefulRequest):
        code = "response_storage_unsupported"
    elif isinstance(exc, UnsupportedTool):
        code = "unsupported_tool"
    else:
        code = "unsupported_parameter"
    return BadRequest(exc.message, param=exc.param, code=code)


def _required(data: dict[str, Any], field: str) -> None:
    if data.get(field) in (None, "", []):
        raise BadRequest(f"'{field}' is a required property", param=field, code=f"missing_{field}")


def _as_chat(
    route: Route, model: ModelRoute, chat: dict[str, Any], include_usage: bool
) -> ClientCall:
    return ClientCall(
        client="openai",
        route=route,
        model=model,
        body=parse_object(dump_json(chat)),
        stream=chat.get("stream") is True,
        include_usage=include_usage,
    )


async def responses(request: Request) -> Response:
    """OpenAI `POST /v1/responses`: native to OpenAI providers, through chat to the others."""
    converted: tuple[dict[str, Any], str] | None = None  # (the client's request, model name)

    def build(route: Route, body: JsonBody) -> ClientCall:
        nonlocal converted
        model = pick_model(route, _require_model(body.data))
        stream = _stream_flag(body.data)
        try:
            if native(model, "responses"):
                check_stateless(body.data)
                if body.data.get("store") is not False:
                    body = parse_object(body.with_members({"store": False}))
                # a Responses stream always ends with its usage: nothing to ask for
                return ClientCall(
                    client="openai",
                    route=route,
                    model=model,
                    body=body,
                    stream=stream,
                    include_usage=True,
                    operation="responses",
                )
            _required(body.data, "input")
            chat = responses_request_to_chat(body.data)
        except ConversionError as exc:
            raise _refused(exc) from exc
        converted = body.data, model.name
        return _as_chat(route, model, chat, include_usage=True)

    response = await _serve(request, "openai", build)
    if converted is None:
        return response
    asked, model = converted
    return reshape(
        response,
        plain=lambda chat: chat_response_to_responses(chat, request=asked, model=model),
        stream=lambda: ChatSSEReshaper(ChatStreamToResponses(asked, model), ends_with_done=False),
    )


async def completions(request: Request) -> Response:
    """OpenAI legacy `POST /v1/completions`: native to OpenAI providers, through chat else."""
    converted: str | None = None

    def build(route: Route, body: JsonBody) -> ClientCall:
        nonlocal converted
        model = pick_model(route, _require_model(body.data))
        _required(body.data, "prompt")
        stream = _stream_flag(body.data)
        options = body.data.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        if native(model, "completions"):
            return ClientCall(
                client="openai",
                route=route,
                model=model,
                body=body,
                stream=stream,
                include_usage=include_usage,
                operation="completions",
            )
        try:
            chat = completions_request_to_chat(body.data)
        except ConversionError as exc:
            raise _refused(exc) from exc
        converted = model.name
        return _as_chat(route, model, chat, include_usage=include_usage)

    response = await _serve(request, "openai", build)
    name = converted
    if name is None:
        return response
    return reshape(
        response,
        plain=lambda chat: chat_response_to_completion(chat, model=name),
        stream=lambda: ChatSSEReshaper(ChatStreamToCompletions(name), ends_with_done=True),
    )
