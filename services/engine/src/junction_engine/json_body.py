"""Reading a JSON request body once, keeping its bytes.

Same-protocol requests go upstream as the client sent them. The only change
routing may need is the `model` member, so we record where each top-level
member's value lies and splice a new value in without re-encoding the rest.

What a provider might read differently from the gateway is refused: a member
name given twice (the gateway would bill the last `model`, a first-wins
provider would run another), `NaN` and `Infinity` (not JSON), and escapes of
lone surrogates (no character; UTF-8 cannot carry them).
"""

from __future__ import annotations

import json
import re
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

from junction_engine.errors import BadRequest
from junction_protocols.json_codec import dumps_bytes

_LONE_SURROGATE_HINT = re.compile(r"\\u[dD][89a-fA-F]")


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"the member name {key[:100]!r} appears twice in one object")
        obj[key] = value
    return obj


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_members, parse_constant=_not_json)
_WS = " \t\n\r"
_WS_BYTES = _WS.encode()


class JsonBody:
    """A decoded top-level JSON object plus the text span of each member value.

    Built once per request and never changed (a plain slotted class: a frozen
    dataclass costs several times as much to build on the hot path).
    """

    __slots__ = ("data", "raw", "spans", "text")

    def __init__(
        self, raw: bytes, text: str, data: dict[str, Any], spans: dict[str, tuple[int, int]]
    ) -> None:
        self.raw = raw
        self.text = text
        self.data = data
        self.spans = spans

    def with_members(self, updates: dict[str, Any]) -> bytes:
        """The original bytes with some top-level values replaced (or appended)."""
        if not updates:
            return self.raw
        spans = self.spans
        if len(self.raw) == len(self.text):
            # ASCII (what the SDKs send): the text's offsets are the bytes' own
            return self._spliced_bytes(updates)
        text = self.text
        for (start, end), value in _replacements(spans, updates):
            text = text[:start] + _encode(value) + text[end:]
        added = [f"{json.dumps(k)}:{_encode(v)}" for k, v in updates.items() if k not in spans]
        if added:
            head = text.rstrip(_WS)[:-1].rstrip(_WS)  # drop the closing brace
            sep = "," if self.data else ""
            text = head + sep + ",".join(added) + "}"
        return text.encode()

    def _spliced_bytes(self, updates: dict[str, Any]) -> bytes:
        raw, spans = self.raw, self.spans
        for (start, end), value in _replacements(spans, updates):
            raw = raw[:start] + dumps_bytes(value) + raw[end:]
        added = [
            dumps_bytes(k) + b":" + dumps_bytes(v) for k, v in updates.items() if k not in spans
        ]
        if added:
            head = raw.rstrip(_WS_BYTES)[:-1].rstrip(_WS_BYTES)  # drop the closing brace
            sep = b"," if self.data else b""
            raw = head + sep + b",".join(added) + b"}"
        return raw


def _replacements(
    spans: dict[str, tuple[int, int]], updates: dict[str, Any]
) -> list[tuple[tuple[int, int], Any]]:
    """The members to replace, last first (so earlier offsets stay valid)."""
    found = [(spans[k], v) for k, v in updates.items() if k in spans]
    if len(found) > 1:
        found.sort(key=lambda item: item[0][0], reverse=True)
    return found


def _encode(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        text.encode()
    except UnicodeEncodeError:
        # a lone surrogate (legal as a JSON escape) cannot be UTF-8: keep it escaped
        return json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text


def dump_json(value: Any) -> bytes:
    """Compact UTF-8 JSON; escapes what UTF-8 cannot carry instead of failing."""
    return dumps_bytes(value)


def _encodable(value: Any) -> bool:
    """Whether every string in `value` is UTF-8 (no lone surrogate)."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return _encodable(list(value)) and _encodable(list(value.values()))
    if isinstance(value, list):
        return all(_encodable(v) for v in value)
    return True


# one member's name and the separators around it: whitespace, the quoted name
# (escapes left for `scanstring`), whitespace, ':' and whitespace
_MEMBER = re.compile(r'[ \t\n\r]*"((?:[^"\\]|\\.)*)"[ \t\n\r]*:[ \t\n\r]*', re.DOTALL)
# what follows a member's value: whitespace, then ',' or '}'
_AFTER = re.compile(r"[ \t\n\r]*([,}])")
_OPEN = re.compile(r"[ \t\n\r]*\{")
_EMPTY = re.compile(r"[ \t\n\r]*\}")


def parse_object(body: bytes) -> JsonBody:
    """Decode `body` as one JSON object; raise BadRequest with a clear message otherwise."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("request body is not valid UTF-8") from None
    if text.startswith("\ufeff"):
        # a byte-order mark is tolerated here but never forwarded
        text, body = text[1:], body[3:]
    try:
        data, spans = _scan(text)
    except (ValueError, IndexError) as exc:
        raise BadRequest(f"request body is not valid JSON: {_reason(exc)}") from None
    except RecursionError:
        raise BadRequest("request body is nested too deeply") from None
    return JsonBody(body, text, data, spans)


def _reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
    return str(exc) or "unexpected end of input"


def _scan(text: str) -> tuple[dict[str, Any], dict[str, tuple[int, int]]]:
    opened = _OPEN.match(text)
    if opened is None:
        raise ValueError("the body must be a JSON object")
    data: dict[str, Any] = {}
    spans: dict[str, tuple[int, int]] = {}
    scan = _DECODER.scan_once  # type: ignore[attr-defined]  # raw_decode wraps this C scanner
    empty = _EMPTY.match(text, opened.end())
    if empty is not None:
        end = empty.end()
    else:
        i = opened.end()
        while True:
            member = _MEMBER.match(text, i)
            if member is None:
                raise ValueError("expected a member name and ':'")
            key = member.group(1)
            if "\\" in key or not key.isprintable():
                # escapes to decode, or characters JSON wants escaped: the strict scanner
                key = scanstring(text, member.start(1), True)[0]
            if key in data:
                raise ValueError(f"the member name {key[:100]!r} appears twice in one object")
            i = member.end()
            try:
                value, end_value = scan(text, i)
            except StopIteration as stop:
                raise json.JSONDecodeError("Expecting value", text, stop.value) from None
            data[key] = value
            spans[key] = (i, end_value)
            after = _AFTER.match(text, end_value)
            if after is None:
                raise ValueError("expected ',' or '}' in the object")
            i = after.end()
            if after.group(1) == "}":
                end = i
                break
    if end != len(text) and text[end:].strip(_WS):
        raise ValueError("extra data after the JSON object")
    if _LONE_SURROGATE_HINT.search(text) and not _encodable([data, list(data)]):
        raise ValueError("a \\u escape names a lone surrogate, which is no character")
    return data, spans
