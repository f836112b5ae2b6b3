"""Telling a replayed telemetry event from a conflicting one, by the row its call has.

Ingest is idempotent by ``(call_id, kind)``, the contract's key, which the
engine's event ids spell out (``<call_id>-started``, ``<call_id>-finished``).
An event whose call and kind the database already holds is a *duplicate*
when it says what the row says, and a *conflict* when it does not: the same
event sent again with other content (other tokens, another cost) is a sender
bug or a tampered spool, never a harmless replay. No column holds the event
id, so an event is compared with what the first event of its call and kind
wrote, on the columns that kind writes:

- a ``finished`` event, against a row it can no longer close (a final row):
  tenant_id, token_id, model, operation, client_protocol, stream, status,
  http_status, error_code, deployment_id, provider_id, credential_id,
  attempts, the five token counts, images, cost_usd, latency_ms, ttft_ms,
  image_size, trace_id, request_id, the attempt log and ``at`` (the row's
  finished_at). Not started_at: the row's start may have come from the
  ``started`` event.
- a ``started`` event, against a row still open (``processing``, or failed as
  stuck by the reaper), which holds what the first ``started`` wrote:
  tenant_id, token_id, model, operation, client_protocol, stream and its
  start (started_at, else at). Once the call's ``finished`` is in, the row
  holds the finished event's labels and a late ``started`` is a duplicate.

The comparison runs in SQL, after the batch's own writes, over the very row
tuples ingest would write (same casts, same rounding of times to the
microsecond), so "equal" means "the column would store the same value", on
SQLite and PostgreSQL alike. One statement covers every duplicate of a
batch; a batch without duplicates runs none.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from junction_control import bulk
from junction_control.usage import records
from junction_control.usage.events import Event
from junction_control.usage.models import OPEN_SQL

# the candidate's position (ids need not be unique), its kind, then the row it would write
_COLUMNS = bulk.columns("n int4, finished bool") + records.ROW_COLUMNS
_LABELS = ("tenant_id", "token_id", "model", "operation", "client_protocol", "stream")
_STARTED = (*_LABELS, "started_at")
_FINISHED = ("tenant_id", *(c.name for c in records.FINISHED_COLUMNS if c.name != "updated_at"))
# null-safe equality in each dialect (SQLite has `IS NOT DISTINCT FROM` only since 3.39)
_SAME = {"postgresql": "IS NOT DISTINCT FROM", "sqlite": "IS"}


def _statement(same: str) -> str:
    def alike(names: Sequence[str]) -> str:
        # batch on the left: `bulk` finds the statement's one "FROM batch" by its text
        return " AND ".join(f"(batch.{n} {same} model_calls.{n})" for n in names)

    return (
        "SELECT batch.n FROM batch JOIN model_calls ON model_calls.id = batch.id WHERE "  # noqa: S608 - column names are this module's constants; values are bound
        f"(batch.finished AND NOT {OPEN_SQL} AND NOT ({alike(_FINISHED)})) OR "
        f"(NOT batch.finished AND {OPEN_SQL} AND NOT ({alike(_STARTED)}))"
    )


_STATEMENTS = {dialect: _statement(same) for dialect, same in _SAME.items()}


async def conflicting(conn: AsyncConnection, events: Sequence[Event], now: datetime) -> set[int]:
    """The positions in `events` (duplicates by call and kind) that differ from their call's row."""
    if not events:
        return set()
    rows = [
        (
            n,
            event["kind"] == "finished",
            *(
                records.finished_row(event, None, now)
                if event["kind"] == "finished"
                else records.started_row(event, now)
            ),
        )
        for n, event in enumerate(events)
    ]
    found = await bulk.with_batch(conn, _COLUMNS, rows, _STATEMENTS[conn.dialect.name])
    return {row[0] for row in found}
