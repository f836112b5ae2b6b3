"""Chat Completions stream chunks → OpenAI Responses API stream events.

``ChatStreamToResponses`` reads decoded ``chat.completion.chunk`` objects
(whatever provider answered: the Anthropic and Gemini translators write this
shape too) and writes the events a Responses client expects, each with its
``type`` and a ``sequence_number`` counting from 0:

    response.created, response.in_progress     on the first chunk
    response.output_item.added                 a reasoning, message or function_call item opens
    response.content_part.added                an output_text, refusal or reasoning_text part opens
    response.output_text.delta                 text as it comes (also refusal., reasoning_text.)
    response.function_call_arguments.delta     arguments as they come
    ….done, response.content_part.done,
    response.output_item.done                  an item ends: another begins, or the answer ends
    response.completed | response.incomplete   the whole response, with usage

Only choice 0 is read (a Responses request asks for one answer). Text and
reasoning items close when another item begins; function calls stay open
until the end (a provider may interleave their argument fragments). The
final response object is built by ``responses_items.envelope``, as the plain
translation builds it. ``fail`` ends the stream with an ``error`` event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .fields import as_dict, as_list
from .ids import now
from .responses_items import (
    envelope,
    finish_status,
    function_call_item,
    item_id,
    message_item,
    reasoning_item,
    response_id,
    text_part,
)
from .usage import Usage, from_openai

__all__ = ["ChatStreamToResponses"]

Body = dict[str, Any]
Event = tuple[str | None, Body]  # (SSE event name, data): always named here

# part kind → (delta event, done event, field holding the text)
_PARTS = {
    "output_text": ("response.output_text.delta", "response.output_text.done", "text"),
    "refusal": ("response.refusal.delta", "response.refusal.done", "refusal"),
    "reasoning_text": ("response.reasoning_text.delta", "response.reasoning_text.done", "text"),
}


@dataclass
class _Item:
    """One output item being streamed."""

    kind: str  # message | reasoning | function_call
    id: str
    index: int
    parts: list[tuple[str, str]] = field(default_factory=list)  # (part kind, text)
    call_id: str = ""
    name: str = ""
    arguments: str = ""

    def final(self) -> Body:
        if self.kind == "function_call":
            return function_call_item(self.id, self.call_id, self.name, self.arguments)
        if self.kind == "reasoning":
            return reasoning_item(self.id, "".join(text for _, text in self.parts))
        return message_item(self.id, [_part(kind, text) for kind, text in self.parts])


def _part(kind: str, text: str) -> Body:
    if kind == "output_text":
        return text_part(text)
    return {"type": kind, _PARTS[kind][2]: text}


class ChatStreamToResponses:
    """Chat chunks in, Responses events out, for one answer to ``request``."""

    def __init__(self, request: Body, model: str) -> None:
        self._request = request
        self._model = model
        self._sequence = 0
        self._started = False
        self._id = ""
        self._created = 0
        self._items: list[_Item] = []
        self._open: _Item | None = None  # the text or reasoning item being written
        self._calls: dict[int, _Item] = {}  # chat tool-call index → its item
        self._finish: str | None = None
        self._usage = Usage()
        self.done = False

    def feed(self, chunk: Body) -> list[Event]:
        """The events for one chat chunk."""
        if self.done:
            return []
        events = self._start(chunk)
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self._usage = from_openai(usage)
        for choice in as_list(chunk.get("choices")):
            choice = as_dict(choice)
            if choice.get("index", 0) != 0:
                continue
            delta = as_dict(choice.get("delta"))
            for key, kind in (
                ("reasoning_content", "reasoning_text"),
                ("content", "output_text"),
                ("refusal", "refusal"),
            ):
                text = delta.get(key)
                if isinstance(text, str) and text:
                    events += self._text(kind, text)
            for call in as_list(delta.get("tool_calls")):
                events += self._call(as_dict(call))
            if isinstance(choice.get("finish_reason"), str):
                self._finish = choice["finish_reason"]
        return events

    def close(self) -> list[Event]:
        """The last events after a clean end: every item done, then the whole response."""
        if self.done:
            return []
        events = self._start({})
        events += self._close_open()
        for item in sorted(self._calls.values(), key=lambda i: i.index):
            done = {"item_id": item.id, "output_index": item.index, "arguments": item.arguments}
            events.append(self._event("response.function_call_arguments.done", done))
            events.append(self._item_done(item))
        self.done = True
        status, incomplete = finish_status(self._finish)
        response = self._response(status, incomplete)
        name = "response.completed" if status == "completed" else "response.incomplete"
        return [*events, self._event(name, {"response": response})]

    def fail(self, message: str, code: str | None) -> list[Event]:
        """An ``error`` event that ends the stream."""
        if self.done:
            return []
        self.done = True
        return [self._event("error", {"code": code, "message": message, "param": None})]

    def _event(self, kind: str, data: Body) -> Event:
        event = (kind, {"type": kind, **data, "sequence_number": self._sequence})
        self._sequence += 1
        return event

    def _response(self, status: str, incomplete: Body | None = None) -> Body:
        finished = status != "in_progress"
        return envelope(
            id=self._id,
            created_at=self._created,
            model=self._model,
            request=self._request,
            status=status,
            output=[item.final() for item in self._items] if finished else [],
            usage=self._usage.to_responses() if finished else None,
            incomplete_details=incomplete,
        )

    def _start(self, chunk: Body) -> list[Event]:
        if self._started:
            return []
        self._started = True
        self._id = response_id(chunk.get("id"))
        created = chunk.get("created")
        self._created = created if isinstance(created, int) else now()
        response = self._response("in_progress")
        return [
            self._event("response.created", {"response": response}),
            self._event("response.in_progress", {"response": response}),
        ]

    def _open_item(self, item: _Item, shown: Body) -> Event:
        self._items.append(item)
        return self._event(
            "response.output_item.added", {"output_index": item.index, "item": shown}
        )

    def _text(self, kind: str, text: str) -> list[Event]:
        events: list[Event] = []
        wanted = "reasoning" if kind == "reasoning_text" else "message"
        item = self._open
        if item is None or item.kind != wanted:
            events += self._close_open()
            item = _Item(
                wanted, item_id("rs" if wanted == "reasoning" else "msg"), len(self._items)
            )
            if wanted == "reasoning":
                shown = reasoning_item(item.id, None, status="in_progress")
            else:
                shown = message_item(item.id, [], status="in_progress")
            events.append(self._open_item(item, shown))
            self._open = item
        if not item.parts or item.parts[-1][0] != kind:
            events += self._part_done(item)
            item.parts.append((kind, ""))
            added = {**self._where(item), "part": _part(kind, "")}
            events.append(self._event("response.content_part.added", added))
        part_kind, so_far = item.parts[-1]
        item.parts[-1] = (part_kind, so_far + text)
        delta: Body = {**self._where(item), "delta": text}
        if kind == "output_text":
            delta["logprobs"] = []
        events.append(self._event(_PARTS[kind][0], delta))
        return events

    def _where(self, item: _Item) -> Body:
        return {
            "item_id": item.id,
            "output_index": item.index,
            "content_index": len(item.parts) - 1,
        }

    def _part_done(self, item: _Item) -> list[Event]:
        if not item.parts:
            return []
        kind, text = item.parts[-1]
        done: Body = {**self._where(item), _PARTS[kind][2]: text}
        if kind == "output_text":
            done["logprobs"] = []
        part = {**self._where(item), "part": _part(kind, text)}
        return [self._event(_PARTS[kind][1], done), self._event("response.content_part.done", part)]

    def _close_open(self) -> list[Event]:
        item, self._open = self._open, None
        if item is None:
            return []
        return [*self._part_done(item), self._item_done(item)]

    def _item_done(self, item: _Item) -> Event:
        return self._event(
            "response.output_item.done", {"output_index": item.index, "item": item.final()}
        )

    def _call(self, call: Body) -> list[Event]:
        index = call.get("index", 0)
        index = index if isinstance(index, int) else 0
        function = as_dict(call.get("function"))
        events: list[Event] = []
        item = self._calls.get(index)
        if item is None:
            events += self._close_open()
            call_id = call.get("id")
            item = _Item(
                "function_call",
                item_id("fc"),
                len(self._items),
                call_id=call_id if isinstance(call_id, str) and call_id else item_id("call"),
                name=str(function.get("name") or ""),
            )
            self._calls[index] = item
            shown = function_call_item(item.id, item.call_id, item.name, "", status="in_progress")
            events.append(self._open_item(item, shown))
        elif isinstance(function.get("name"), str) and not item.name:
            item.name = function["name"]
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            item.arguments += arguments
            delta = {"item_id": item.id, "output_index": item.index, "delta": arguments}
            events.append(self._event("response.function_call_arguments.delta", delta))
        return events
