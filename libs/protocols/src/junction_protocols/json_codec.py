"""JSON on the hot path: orjson where it can, the standard library where it cannot.

orjson is several times faster than ``json`` at both ends, but stricter: it
refuses NaN and Infinity, integers beyond 64 bits, lone surrogates and
non-string keys. Those inputs are legal for the standard library (and some
clients send them), so each such case falls back to ``json`` and keeps its
semantics. One difference stays, on purpose: a NaN or infinite float is
written as ``null`` (the standard library writes ``NaN``, which is not JSON).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["dumps", "dumps_bytes", "loads"]


def loads(data: bytes | bytearray | str) -> Any:
    """Decode one JSON document; raises ``ValueError`` (``json.JSONDecodeError``) if invalid."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        # NaN, huge integers, lone surrogates: legal to the standard library
        return json.loads(data)


def dumps_bytes(obj: Any) -> bytes:
    """Compact UTF-8 JSON, non-ASCII kept as is."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        # orjson raises a TypeError subclass on what it refuses (non-str keys,
        # lone surrogates, NaN, big ints); the standard library escapes instead
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
        try:
            return text.encode()
        except UnicodeEncodeError:
            return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).encode()


def dumps(obj: Any) -> str:
    """Compact JSON text, non-ASCII kept as is."""
    return dumps_bytes(obj).decode()
