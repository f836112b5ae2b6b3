"""From telemetry events to model_calls column values, checked against the columns.

`junction_contracts.telemetry.parse_batch` checks the shape of a batch; what
it lets through may still not fit a row (a string longer than its column, a
time that is not a finite number). Such an event is refused here, alone, so
one odd event never costs the rest of its batch.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from junction_contracts.telemetry import CallEvent
from junction_control.usage.models import (
    ERROR_CODE_CHARS,
    ID_CHARS,
    LABEL_CHARS,
    MODEL_CHARS,
    PROCESSING,
    TENANT_ID_CHARS,
    TRACE_ID_CHARS,
)

Row = dict[str, Any]

MAX_INT = 2**31 - 1  # the INTEGER columns of PostgreSQL
_MAX_TIMESTAMP = 253402300799.0  # 9999-12-31T23:59:59Z

_REQUIRED_TEXT = (
    ("call_id", ID_CHARS),
    ("tenant_id", TENANT_ID_CHARS),
    ("token_id", ID_CHARS),
    ("model", MODEL_CHARS),
    ("operation", LABEL_CHARS),
    ("client_protocol", LABEL_CHARS),
)
_OPTIONAL_TEXT = (
    ("error_code", ERROR_CODE_CHARS),
    ("deployment_id", ID_CHARS),
    ("provider_id", ID_CHARS),
    ("credential_id", ID_CHARS),
    ("image_size", LABEL_CHARS),
    ("trace_id", TRACE_ID_CHARS),
)
_COUNTS = (
    "attempts",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_input_tokens",
    "reasoning_tokens",
    "images",
)


def problem(event: CallEvent) -> str | None:
    """Why `event` cannot be stored, or None when it fits a row."""
    for name, width in _REQUIRED_TEXT:
        value = getattr(event, name)
        if not isinstance(value, str) or not value or len(value) > width:
            return f"{name} must be a non-empty string of at most {width} characters"
    for name, width in _OPTIONAL_TEXT:
        value = getattr(event, name)
        if value is not None and (not isinstance(value, str) or len(value) > width):
            return f"{name} must be a string of at most {width} characters"
    if not isinstance(event.stream, bool):
        return "stream must be a boolean"
    if not _is_time(event.at) or not (event.started_at == 0 or _is_time(event.started_at)):
        return "at and started_at must be unix times"
    if event.kind == "started":
        return None
    for name in _COUNTS:
        if getattr(event, name) > MAX_INT:
            return f"{name} is out of range"
    if event.http_status is not None and not _is_int(event.http_status, 0, 999):
        return "http_status must be an HTTP status code"
    if not _is_number(event.cost_usd) or event.cost_usd < 0:
        return "cost_usd must be a non-negative number"
    for name in ("latency_ms", "ttft_ms"):
        value = getattr(event, name)
        if value is not None and (not _is_number(value) or value < 0):
            return f"{name} must be a non-negative number"
    return None


def started_row(event: CallEvent, now: datetime) -> Row:
    """The `processing` row a `started` event opens."""
    return {
        "id": event.call_id,
        "tenant_id": event.tenant_id,
        "token_id": event.token_id,
        "model": event.model,
        "operation": event.operation,
        "client_protocol": event.client_protocol,
        "stream": event.stream,
        "status": PROCESSING,
        "http_status": None,
        "error_code": None,
        "deployment_id": None,
        "provider_id": None,
        "credential_id": None,
        **dict.fromkeys(_COUNTS, 0),
        "cost_usd": 0.0,
        "latency_ms": None,
        "ttft_ms": None,
        "image_size": None,
        "trace_id": None,
        "started_at": _time(event.started_at or event.at),
        "finished_at": None,
        "created_at": now,
        "updated_at": now,
    }


def finished_row(event: CallEvent, started: CallEvent | None, now: datetime) -> Row:
    """The final row of a call whose `finished` event is the first the database sees."""
    row = {
        "id": event.call_id,
        "tenant_id": event.tenant_id,
        "started_at": _time(_start_of(event, started)),
        "created_at": now,
    }
    row.update(finished_values(event, now))
    return row


def finished_values(event: CallEvent, now: datetime) -> Row:
    """The columns a `finished` event sets on an existing row.

    All but the key, the tenant, the start (the `started` event saw it first)
    and created_at.
    """
    values: Row = {
        "token_id": event.token_id,
        "model": event.model,
        "operation": event.operation,
        "client_protocol": event.client_protocol,
        "stream": event.stream,
        "status": event.status,
        "http_status": event.http_status,
        **{name: getattr(event, name) for name, _ in _OPTIONAL_TEXT},
        **{name: int(getattr(event, name)) for name in _COUNTS},
        "cost_usd": float(event.cost_usd),
        "latency_ms": None if event.latency_ms is None else float(event.latency_ms),
        "ttft_ms": None if event.ttft_ms is None else float(event.ttft_ms),
        "finished_at": _time(event.at),
        "updated_at": now,
    }
    return values


def _start_of(finished: CallEvent, started: CallEvent | None) -> float:
    # the engine stamps started_at on both events; older or odd senders may
    # leave it at 0, then the started event's time, then end minus latency
    if finished.started_at:
        return finished.started_at
    if started is not None:
        return started.started_at or started.at
    if finished.latency_ms:
        return max(finished.at - finished.latency_ms / 1000, 0.0)
    return finished.at


def _time(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _is_time(value: object) -> bool:
    return isinstance(value, int | float) and _is_number(value) and 0 < value <= _MAX_TIMESTAMP
