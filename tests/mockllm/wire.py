"""Small helpers for reading the mock's wire output in tests."""

from __future__ import annotations

import json
from typing import Any

KEY = "sk-test-key"
OPENAI_HEADERS = {"authorization": f"Bearer {KEY}"}
ANTHROPIC_HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
GEMINI_HEADERS = {"x-goog-api-key": KEY}

WEATHER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "integer"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "note": {"type": "string"},
    },
    "required": ["city", "days", "unit"],
}
WEATHER_ARGS = {"city": "mock", "days": 1, "unit": "celsius"}
TIME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"zone": {"type": "string"}},
    "required": ["zone"],
}


def sse_events(text: str) -> list[tuple[str | None, str]]:
    """(event name, data) of each Server-Sent Event in ``text``."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[len("event:") :].strip()
            elif line.startswith("data:"):
                data.append(line[len("data:") :].strip())
        events.append((name, "\n".join(data)))
    return events


def sse_json(text: str) -> list[Any]:
    """The JSON payloads of the events in ``text`` (``[DONE]`` left out)."""
    return [json.loads(data) for _, data in sse_events(text) if data and data != "[DONE]"]
