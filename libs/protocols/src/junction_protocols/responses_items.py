"""The objects of an OpenAI Responses API answer, built from what a chat answer holds.

Shared by the plain translation (``responses_chat``) and the stream
(``responses_chat_stream``), so a streamed answer ends with exactly the
response object a plain one returns.

- ``envelope`` is the ``response`` object: the answer's ``id``, ``status``,
  ``output`` and ``usage``, plus the request's own settings echoed back as
  OpenAI does (``instructions``, ``tools``, ``tool_choice``, ``text``,
  ``reasoning``, ``temperature``, ``top_p``, ``max_output_tokens``,
  ``parallel_tool_calls``, ``metadata``, ``user``). ``store`` is always
  ``false``: the gateway keeps no response.
- output items: ``message`` (with ``output_text`` and ``refusal`` parts),
  ``function_call`` and ``reasoning`` (with ``reasoning_text`` content).
- ids follow OpenAI's shape (``resp_``, ``msg_``, ``fc_``, ``rs_`` and 48 hex
  digits); a response id keeps the random part of the chat completion's id,
  so a call can be traced from either side.
"""

from __future__ import annotations

import secrets
from typing import Any

from .fields import as_dict
from .ids import now

__all__ = [
    "envelope",
    "finish_status",
    "function_call_item",
    "item_id",
    "message_item",
    "reasoning_item",
    "response_id",
    "text_part",
]

Body = dict[str, Any]


def item_id(prefix: str) -> str:
    """A fresh output item id, ``msg_…``, ``fc_…`` or ``rs_…``."""
    return f"{prefix}_{secrets.token_hex(24)}"


def response_id(source: object) -> str:
    """A ``resp_`` id carrying the random part of a chat completion id (fresh when absent)."""
    if not isinstance(source, str) or not source:
        return item_id("resp")
    if source.startswith("resp_"):
        return source
    return "resp_" + source.removeprefix("chatcmpl-")


def finish_status(finish_reason: object) -> tuple[str, Body | None]:
    """``(status, incomplete_details)`` of a response whose chat answer ended so."""
    if finish_reason == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if finish_reason == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def text_part(text: str) -> Body:
    """An ``output_text`` content part."""
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def message_item(
    item: str, parts: list[Body], *, status: str = "completed", phase: str | None = None
) -> Body:
    """An assistant ``message`` output item."""
    out: Body = {
        "id": item,
        "type": "message",
        "status": status,
        "content": parts,
        "role": "assistant",
    }
    if phase is not None:
        out["phase"] = phase
    return out


def function_call_item(
    item: str, call_id: str, name: str, arguments: str, *, status: str = "completed"
) -> Body:
    """A ``function_call`` output item."""
    return {
        "id": item,
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": call_id,
        "name": name,
    }


def reasoning_item(item: str, text: str | None, *, status: str = "completed") -> Body:
    """A ``reasoning`` output item holding the model's reasoning text, when it sent any."""
    content = [] if text is None else [{"type": "reasoning_text", "text": text}]
    return {"id": item, "type": "reasoning", "summary": [], "content": content, "status": status}


def _echo_text(request: Body) -> Body:
    text = as_dict(request.get("text"))
    fmt = text.get("format")
    out: Body = {"format": fmt if isinstance(fmt, dict) else {"type": "text"}}
    out["verbosity"] = text.get("verbosity") or "medium"
    return out


def _echo_reasoning(request: Body) -> Body:
    reasoning = as_dict(request.get("reasoning"))
    return {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")}


def _or(request: Body, key: str, default: Any) -> Any:
    value = request.get(key)
    return default if value is None else value


def envelope(
    *,
    id: str,
    created_at: int,
    model: str,
    request: Body,
    status: str,
    output: list[Body],
    usage: Body | None,
    incomplete_details: Body | None = None,
) -> Body:
    """The ``response`` object (see the module docstring)."""
    return {
        "id": id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "completed_at": now() if status == "completed" else None,
        "error": None,
        "incomplete_details": incomplete_details,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "max_tool_calls": request.get("max_tool_calls"),
        "model": model,
        "output": output,
        "parallel_tool_calls": _or(request, "parallel_tool_calls", True),
        "previous_response_id": None,
        "reasoning": _echo_reasoning(request),
        "service_tier": "default",
        "store": False,
        "temperature": _or(request, "temperature", 1.0),
        "text": _echo_text(request),
        "tool_choice": _or(request, "tool_choice", "auto"),
        "tools": _or(request, "tools", []),
        "top_p": _or(request, "top_p", 1.0),
        "truncation": _or(request, "truncation", "disabled"),
        "usage": usage,
        "user": request.get("user"),
        "metadata": _or(request, "metadata", {}),
    }
