"""Identifiers and data URLs shared by the translators.

Response ids keep their random part across protocols so a call can be traced
from either side: ``msg_01AbC`` ↔ ``chatcmpl-01AbC``. Tool-call ids are
passed through unchanged in both directions.
"""

from __future__ import annotations

import re
import secrets
import time

__all__ = [
    "anthropic_message_id",
    "data_url",
    "now",
    "openai_completion_id",
    "parse_data_url",
    "tool_use_id",
]

_DATA_URL = re.compile(
    r"^data:(?P<type>[\w.+\-]+/[\w.+\-]+)(?:;[^,;]*)*;base64,(?P<data>.*)$", re.S
)


def _random() -> str:
    return secrets.token_urlsafe(18).replace("-", "").replace("_", "")[:24]


def openai_completion_id(source_id: object) -> str:
    """A ``chatcmpl-`` id carrying the random part of ``source_id`` (fresh when absent)."""
    if not isinstance(source_id, str) or not source_id:
        return f"chatcmpl-{_random()}"
    if source_id.startswith("chatcmpl-"):
        return source_id
    return "chatcmpl-" + source_id.removeprefix("msg_")


def anthropic_message_id(source_id: object) -> str:
    """A ``msg_`` id carrying the random part of ``source_id`` (fresh when absent)."""
    if not isinstance(source_id, str) or not source_id:
        return f"msg_{_random()}"
    if source_id.startswith("msg_"):
        return source_id
    return "msg_" + source_id.removeprefix("chatcmpl-")


def tool_use_id() -> str:
    """A fresh Anthropic-style tool-use id, for calls that arrive without one."""
    return f"toolu_{_random()}"


def now() -> int:
    """Unix seconds, the ``created`` field of OpenAI objects."""
    return int(time.time())


def parse_data_url(url: str) -> tuple[str, str] | None:
    """``(media_type, base64_data)`` of a base64 ``data:`` URL, else ``None``."""
    match = _DATA_URL.match(url)
    if match is None:
        return None
    return match.group("type").lower(), match.group("data")


def data_url(media_type: str, data: str) -> str:
    """A base64 ``data:`` URL."""
    return f"data:{media_type};base64,{data}"
