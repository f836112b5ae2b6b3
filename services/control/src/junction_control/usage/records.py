"""From telemetry events (checked by `usage.events`) to model_calls rows, as tuples.

The column lists name the tuples' fields and their PostgreSQL types, for the
set-based statements of `junction_control.bulk`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from junction_control import bulk
from junction_control.usage.events import COUNTS, Event
from junction_control.usage.models import PROCESSING

Row = tuple[Any, ...]

# what a `finished` event sets on a call's row, in the order of the row tuples
FINISHED_COLUMNS = bulk.columns(
    "token_id text, model text, operation text, client_protocol text, stream bool, "
    "status text, http_status int4, error_code text, deployment_id text, provider_id text, "
    "credential_id text, attempts int4, input_tokens int4, output_tokens int4, "
    "cached_input_tokens int4, cache_write_input_tokens int4, reasoning_tokens int4, "
    "images int4, cost_usd float8, latency_ms float8, ttft_ms float8, image_size text, "
    "trace_id text, finished_at timestamptz, updated_at timestamptz"
)
# a whole new row: the key, what only the first event sets, then the rest
ROW_COLUMNS = (
    bulk.columns("id text, tenant_id text, started_at timestamptz, created_at timestamptz")
    + FINISHED_COLUMNS
)
# an existing row closed by its `finished` event: the key, then what changes
CLOSE_COLUMNS = bulk.columns("id text") + FINISHED_COLUMNS
_IDLE_COUNTS = (0,) * len(COUNTS)


def started_row(event: Event, now: datetime) -> Row:
    """The `processing` row a `started` event opens (columns as in ROW_COLUMNS)."""
    return (
        event["call_id"],
        event["tenant_id"],
        _time(event["started_at"] or event["at"]),
        now,
        event["token_id"],
        event["model"],
        event["operation"],
        event["client_protocol"],
        event["stream"],
        PROCESSING,
        None,  # http_status
        None,  # error_code
        None,  # deployment_id
        None,  # provider_id
        None,  # credential_id
        *_IDLE_COUNTS,
        0.0,  # cost_usd
        None,  # latency_ms
        None,  # ttft_ms
        None,  # image_size
        None,  # trace_id
        None,  # finished_at
        now,
    )


def finished_row(event: Event, started: Event | None, now: datetime) -> Row:
    """The final row of a call whose `finished` event is the first the database sees."""
    return (
        event["call_id"],
        event["tenant_id"],
        _time(_start_of(event, started)),
        now,
        *finished_values(event, now),
    )


def close_row(event: Event, now: datetime) -> Row:
    """What closes an existing row (columns as in CLOSE_COLUMNS)."""
    return (event["call_id"], *finished_values(event, now))


def finished_values(event: Event, now: datetime) -> Row:
    """The columns a `finished` event sets on an existing row (as in FINISHED_COLUMNS).

    All but the key, the tenant, the start (the `started` event saw it first)
    and created_at.
    """
    latency, ttft = event["latency_ms"], event["ttft_ms"]
    return (
        event["token_id"],
        event["model"],
        event["operation"],
        event["client_protocol"],
        event["stream"],
        event["status"],
        event["http_status"],
        event["error_code"],
        event["deployment_id"],
        event["provider_id"],
        event["credential_id"],
        *[int(event[name]) for name in COUNTS],
        float(event["cost_usd"]),
        None if latency is None else float(latency),
        None if ttft is None else float(ttft),
        event["image_size"],
        event["trace_id"],
        _time(event["at"]),
        now,
    )


def _start_of(finished: Event, started: Event | None) -> float:
    # the engine stamps started_at on both events; older or odd senders may
    # leave it at 0, then the started event's time, then end minus latency
    if finished["started_at"]:
        return float(finished["started_at"])
    if started is not None:
        return float(started["started_at"] or started["at"])
    if finished["latency_ms"]:
        return max(float(finished["at"] - finished["latency_ms"] / 1000), 0.0)
    return float(finished["at"])


def _time(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, UTC)
