"""From telemetry events (checked by `usage.events`) to model_calls rows, as tuples.

The column lists name the tuples' fields and their PostgreSQL types, for the
set-based statements of `junction_control.bulk`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import orjson

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
    "trace_id text, usage_estimated bool, partial bool, request_id text, attempt_log text, "
    "finished_at timestamptz, updated_at timestamptz"
)
# a whole new row: the key, what only the first event sets, then the rest
ROW_COLUMNS = (
    bulk.columns("id text, tenant_id text, started_at timestamptz, created_at timestamptz")
    + FINISHED_COLUMNS
)
# an existing row closed by its `finished` event: the key, then what changes
CLOSE_COLUMNS = bulk.columns("id text") + FINISHED_COLUMNS


def started_row(event: Event, now: datetime) -> Row:
    """The `processing` row a `started` event opens (columns as in ROW_COLUMNS)."""
    return (
        *_KEY(event),
        _time(event["started_at"] or event["at"]),
        now,
        *_LABELS(event),
        PROCESSING,
        *_NO_OUTCOME,
        event["request_id"],  # known from the start: a call still open can be found by it
        None,  # attempt_log
        None,  # finished_at
        now,
    )


def finished_row(event: Event, started: Event | None, now: datetime) -> Row:
    """The final row of a call whose `finished` event is the first the database sees."""
    return (*_KEY(event), _time(_start_of(event, started)), now, *finished_values(event, now))


def close_row(event: Event, now: datetime) -> Row:
    """What closes an existing row (columns as in CLOSE_COLUMNS)."""
    return (event["call_id"], *finished_values(event, now))


def finished_values(event: Event, now: datetime) -> Row:
    """The columns a `finished` event sets on an existing row (as in FINISHED_COLUMNS).

    All but the key, the tenant, the start (the `started` event saw it first)
    and created_at. Numbers go as they came (the columns' types take ints
    for floats), except counts: the contract lets booleans through as ints.
    """
    return (
        *_LABELS(event),
        *_OUTCOME(event),
        *map(int, _COUNT_VALUES(event)),
        *_MEASURES(event),
        attempt_log_text(event["attempt_log"]),
        _time(event["at"]),
        now,
    )


# the event fields of each part of a row, fetched in one C call each
_KEY = itemgetter("call_id", "tenant_id")
_LABELS = itemgetter("token_id", "model", "operation", "client_protocol", "stream")
_OUTCOME = itemgetter(
    "status", "http_status", "error_code", "deployment_id", "provider_id", "credential_id"
)
_COUNT_VALUES = itemgetter(*COUNTS)
_MEASURES = itemgetter(
    "cost_usd",
    "latency_ms",
    "ttft_ms",
    "image_size",
    "trace_id",
    "usage_estimated",
    "partial",
    "request_id",
)
# a started call's outcome, counts and measures: none yet
_NO_OUTCOME = (None,) * 5 + (0,) * len(COUNTS) + (0.0,) + (None,) * 4 + (False, False)


def attempt_log_text(notes: list[dict[str, Any]]) -> str | None:
    """The attempt log as its column stores it: a JSON array, or NULL when no attempt was made."""
    return orjson.dumps(notes).decode() if notes else None


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
