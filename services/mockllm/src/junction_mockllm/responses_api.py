"""OpenAI wire format: the Responses API (``POST /v1/responses``), plain and streamed.

References: https://platform.openai.com/docs/api-reference/responses/create,
/responses/object (the response object), /responses-streaming (the events).

The reply follows the mock's one rule (``replies``): the last user text,
the first offered function tool when the turn ends with a user message, or
the function call outputs that end the input. A stream is the documented
event sequence, each event named and numbered from 0::

    response.created, response.in_progress,
    response.output_item.added, response.content_part.added,
    response.output_text.delta (one per word), response.output_text.done,
    response.content_part.done, response.output_item.done,
    (a function call instead: output_item.added, function_call_arguments.delta in three pieces,
     function_call_arguments.done, output_item.done),
    response.completed (or response.incomplete) with the whole response and usage.

``fault=midstream`` streams the start of a text answer, then an ``error``
event; ``fault=nousage`` leaves usage null; the other faults are the shared
ones (``faults.preflight``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from junction_mockllm.delivery import json_response, sse_data, stream_response
from junction_mockllm.directives import DirectiveError, Knobs, read_knobs
from junction_mockllm.errors import error_response
from junction_mockllm.faults import bearer_key, preflight, read_json
from junction_mockllm.replies import Prompt, Reply, Tool, ToolMode, compose, fragments
from junction_mockllm.replies import prompt_tokens as count_prompt
from junction_mockllm.settings import MockSettings

Body = dict[str, Any]


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}{uuid.uuid4().hex[:16]}"


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, Mapping) and part.get("type") in ("input_text", "output_text")
        )
    return ""


def _tool_choice(choice: Any) -> tuple[ToolMode, str | None]:
    if choice == "none":
        return "none", None
    if choice == "required":
        return "any", None
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        return "any", str(choice.get("name"))
    return "auto", None


def responses_prompt(body: Mapping[str, Any], model: str) -> Prompt:
    """The provider-neutral prompt of a Responses API request."""
    given = body.get("input")
    items: list[Mapping[str, Any]] = (
        [{"role": "user", "content": given}]
        if isinstance(given, str)
        else [i for i in given or [] if isinstance(i, Mapping)]
    )
    outputs: list[str] = []
    for item in reversed(items):
        if item.get("type") != "function_call_output":
            break
        outputs.insert(0, _text_of(item.get("output")))
    messages = [i for i in items if i.get("type", "message") == "message"]
    users = [_text_of(m.get("content")) for m in messages if m.get("role") == "user"]
    texts = [str(body.get("instructions") or ""), *(_text_of(m.get("content")) for m in messages)]
    tools = tuple(
        Tool(str(t.get("name")), t.get("parameters"))
        for t in body.get("tools") or []
        if isinstance(t, Mapping) and t.get("type") == "function"
    )
    mode, forced = _tool_choice(body.get("tool_choice"))
    limit = body.get("max_output_tokens")
    return Prompt(
        model=model,
        user_text=users[-1] if users else "",
        tool_result=" ".join(outputs) if outputs else None,
        tools=tools,
        tool_mode=mode,
        forced_tool=forced,
        input_tokens=count_prompt(texts + outputs),
        max_tokens=limit if isinstance(limit, int) else None,
    )


def _usage(reply: Reply) -> Body:
    return {
        "input_tokens": reply.input_tokens,
        "input_tokens_details": {"cached_tokens": reply.cached_tokens},
        "output_tokens": reply.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": reply.input_tokens + reply.output_tokens,
    }


def _text_part(text: str) -> Body:
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def _message(item_id: str, text: str, status: str = "completed") -> Body:
    content = [_text_part(text)] if status == "completed" else []
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "content": content,
        "role": "assistant",
    }


def _call(item_id: str, call: Any, arguments: str, status: str = "completed") -> Body:
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": f"call_{call.key}",
        "name": call.name,
    }


def response_object(
    body: Mapping[str, Any], reply: Reply | None, model: str, response_id: str, output: list[Body]
) -> Body:
    """The ``response`` object; ``reply`` None while it is in progress."""
    status = "in_progress" if reply is None else "completed"
    incomplete = None
    if reply is not None and reply.finish == "length":
        status, incomplete = "incomplete", {"reason": "max_output_tokens"}
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "background": False,
        "completed_at": int(time.time()) if status == "completed" else None,
        "error": None,
        "incomplete_details": incomplete,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": _usage(reply) if reply is not None else None,
        "user": None,
        "metadata": body.get("metadata") or {},
    }


class _Events:
    """Numbered, named events of one stream."""

    def __init__(self) -> None:
        self.out: list[bytes] = []

    def add(self, kind: str, **data: Any) -> None:
        self.out.append(
            sse_data({"type": kind, **data, "sequence_number": len(self.out)}, event=kind)
        )


def response_events(body: Mapping[str, Any], reply: Reply, model: str, usage: bool) -> list[bytes]:
    """The SSE events of a streamed response."""
    events = _Events()
    rid = _id("resp")
    start = response_object(body, None, model, rid, [])
    events.add("response.created", response=start)
    events.add("response.in_progress", response=start)
    output: list[Body] = []
    if reply.tool_calls:
        for call in reply.tool_calls:
            index, item_id, arguments = len(output), _id("fc"), call.arguments_json
            events.add(
                "response.output_item.added",
                output_index=index,
                item=_call(item_id, call, "", "in_progress"),
            )
            for piece in fragments(arguments):
                events.add(
                    "response.function_call_arguments.delta",
                    item_id=item_id,
                    output_index=index,
                    delta=piece,
                )
            events.add(
                "response.function_call_arguments.done",
                item_id=item_id,
                output_index=index,
                arguments=arguments,
            )
            output.append(_call(item_id, call, arguments))
            events.add("response.output_item.done", output_index=index, item=output[-1])
    else:
        item_id = _id("msg")
        where = {"item_id": item_id, "output_index": 0, "content_index": 0}
        events.add(
            "response.output_item.added", output_index=0, item=_message(item_id, "", "in_progress")
        )
        events.add("response.content_part.added", **where, part=_text_part(""))
        for piece in reply.pieces:
            events.add("response.output_text.delta", **where, delta=piece, logprobs=[])
        events.add("response.output_text.done", **where, text=reply.text, logprobs=[])
        events.add("response.content_part.done", **where, part=_text_part(reply.text))
        output.append(_message(item_id, reply.text))
        events.add("response.output_item.done", output_index=0, item=output[-1])
    final = response_object(body, reply, model, rid, output)
    if not usage:
        final["usage"] = None
    name = "response.completed" if final["status"] == "completed" else "response.incomplete"
    events.add(name, response=final)
    return events.out


def midstream_events(body: Mapping[str, Any], model: str, message: str) -> list[bytes]:
    """A stream that fails with an ``error`` event after its first text."""
    events = _Events()
    rid, item_id = _id("resp"), _id("msg")
    start = response_object(body, None, model, rid, [])
    where = {"item_id": item_id, "output_index": 0, "content_index": 0}
    events.add("response.created", response=start)
    events.add("response.in_progress", response=start)
    events.add(
        "response.output_item.added", output_index=0, item=_message(item_id, "", "in_progress")
    )
    events.add("response.content_part.added", **where, part=_text_part(""))
    events.add("response.output_text.delta", **where, delta="Partial answer", logprobs=[])
    events.add("error", code="server_error", message=message, param=None)
    return events.out


async def _begin(
    request: Request, settings: MockSettings
) -> tuple[Body, Knobs, dict[str, str]] | Response:
    """Body, knobs, key and faults, as every OpenAI endpoint; ``midstream`` is this one's own."""
    headers = {"x-request-id": f"req_{uuid.uuid4().hex}"}
    body = await read_json(request)
    if body is None:
        return error_response(
            "openai", 400, "We could not parse the JSON body of your request.", headers=headers
        )
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return error_response(
            "openai", 400, "Missing required parameter: 'model'.", param="model", headers=headers
        )
    try:
        knobs = read_knobs(model, request.headers, settings)
    except DirectiveError as exc:
        return error_response("openai", 400, str(exc), param="model", headers=headers)
    checked = replace(knobs, fault=None) if knobs.fault == "midstream" else knobs
    refusal = await preflight(request, settings, "openai", checked, bearer_key(request), headers)
    return refusal if refusal is not None else (body, knobs, headers)


class ResponsesEndpoints:
    """``POST /v1/responses``."""

    def __init__(self, settings: MockSettings) -> None:
        self.settings = settings

    def routes(self) -> list[Route]:
        """The routes served by this class."""
        return [Route("/v1/responses", self.create, methods=["POST"])]

    async def create(self, request: Request) -> Response:
        """Create a response, plain or streamed."""
        started = await _begin(request, self.settings)
        if isinstance(started, Response):
            return started
        body, knobs, headers = started
        given = body.get("input")
        if not isinstance(given, str | list) or not given:
            message = "Missing required parameter: 'input'."
            return error_response("openai", 400, message, param="input", headers=headers)
        if knobs.fault == "midstream":
            events = midstream_events(body, knobs.model, "The stream failed.")
            return stream_response(events, knobs, headers=headers)
        reply = compose(responses_prompt(body, knobs.model), knobs)
        usage = knobs.fault != "nousage"
        if body.get("stream"):
            return stream_response(
                response_events(body, reply, knobs.model, usage), knobs, headers=headers
            )
        output = (
            [_call(_id("fc"), call, call.arguments_json) for call in reply.tool_calls]
            if reply.tool_calls
            else [_message(_id("msg"), reply.text)]
        )
        answer = response_object(body, reply, knobs.model, _id("resp"), output)
        if not usage:
            answer["usage"] = None
        return await json_response(answer, knobs, request, headers=headers)
