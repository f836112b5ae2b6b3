"""Recording the engine's telemetry events in model_calls, idempotently.

Per call (keyed by ``call_id``):

- ``started`` opens a ``processing`` row when the call has none; it never
  touches a row that exists.
- The first ``finished`` the database sees sets the final state: it inserts
  the row, or closes a ``processing`` one. Any later ``finished`` for the call
  changes nothing — the first final state wins, so a replay never counts twice
  (and one that says something else is refused as a conflict).
- A row the stuck-call reaper closed (``failed`` / ``stuck``) is still open:
  the engine's ``finished`` event is the truth and replaces it.
- Events whose tenant does not exist (deleted since) are refused, as are
  events that do not fit a row (see `usage.events.refusal`).

Each event gets one outcome: ``accepted`` (it changed the call's row, or was
folded into the row its call got in this batch), ``duplicate`` (the row
already says what it says: a replay, a second ``finished``, a ``started``
after the ``finished``), ``conflict`` (its call and kind are recorded with
other content: see `usage.conflicts`; it changes nothing) or ``rejected``.

The first final state with a cost above zero also charges the tenant's
credit (`credits.service.charge_calls`) and adds the cost to its token's
``spent_usd`` (what the budget is checked against: it outlives the pruned
calls), in the same transaction. Every first final state also moves its
token's ``last_used_at`` forward to the call's end (never back). The ledger's unique call id is the
backstop for both: a row that is closed twice (an engine-reported
failed/stuck, then a later ``finished``) is charged and counted once.
A ``refused`` call (turned down before any provider was tried) is never
charged: an event that claims a cost for one is malformed by the contract
and rejected by `usage.events.refusal` when handed in as an object.

A batch is one transaction of a fixed number of set-based statements (see
`junction_control.bulk`), whatever its size: no ORM object and no statement
per row. On PostgreSQL it first takes a transaction-scoped advisory lock per
call id, in id order, so overlapping batches queue behind each other instead
of deadlocking (row locks alone cannot cover the calls that have no row
yet). Then one lookup of its call ids (rows locked on PostgreSQL), one
``INSERT … ON CONFLICT DO NOTHING`` for the new calls, one ``UPDATE … FROM``
for the calls it closes (re-checking in SQL that each is still open), one
ledger insert, one balance upsert and one spend update; and, for a batch
with duplicates, one comparison of them with their rows.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from junction_contracts.telemetry import CallEvent
from junction_control import bulk
from junction_control.columns import utcnow
from junction_control.credits.service import Charge, charge_calls
from junction_control.usage import records
from junction_control.usage.conflicts import conflicting
from junction_control.usage.events import Batch, Event, check, event_of
from junction_control.usage.models import OPEN_SQL, is_open

log = logging.getLogger(__name__)

Outcome = Literal["accepted", "duplicate", "conflict", "rejected"]

# conflicting event ids named in the warning of one batch
_LOGGED_IDS = 5
_IDS = bulk.columns("id text")
_TOKENS = bulk.columns("id text, delta float8, used_at timestamptz")
_KNOWN_TENANTS = "SELECT id FROM tenants WHERE id IN (SELECT id FROM batch)"
_STATES = (
    "SELECT id, status, error_code FROM model_calls WHERE id IN (SELECT id FROM batch) ORDER BY id"
)
_INSERT = bulk.insert_sql(
    "model_calls", records.ROW_COLUMNS, conflict="ON CONFLICT (id) DO NOTHING RETURNING id"
)
# the WHERE clause re-checks in SQL that the row is still open
_CLOSE = bulk.update_sql(
    "model_calls",
    "id",
    records.FINISHED_COLUMNS,
    where=OPEN_SQL,
    returning="model_calls.id",
)
_LOCK_TOKENS = "SELECT id FROM user_tokens WHERE id IN (SELECT id FROM batch) ORDER BY id"
# spent = spent + delta in SQL: concurrent writers add, never overwrite; a key's
# last use only moves forward (batches may land out of order)
_TOUCH_TOKENS = (
    "UPDATE user_tokens SET spent_usd = user_tokens.spent_usd + batch.delta, "
    "last_used_at = CASE WHEN user_tokens.last_used_at IS NULL "
    "OR user_tokens.last_used_at < batch.used_at "
    "THEN batch.used_at ELSE user_tokens.last_used_at END "
    "FROM batch WHERE user_tokens.id = batch.id"
)
# one statement: the sorted subquery fixes the order the locks are taken in
_ADVISORY_LOCKS = text(
    "SELECT pg_advisory_xact_lock(hashtextextended(ids.id, 0)) FROM "
    "(SELECT id FROM unnest(CAST(:ids AS text[])) WITH ORDINALITY AS u(id, n) "
    "ORDER BY n) AS ids"
)


@dataclass(slots=True)
class IngestResult:
    """How many events of each kind ended with each outcome; the ids of the conflicts."""

    counts: Counter[tuple[str, Outcome]] = field(default_factory=Counter)
    conflicts: list[str] = field(default_factory=list)

    def total(self, outcome: Outcome) -> int:
        """Events of every kind with `outcome`."""
        return sum(n for (_kind, o), n in self.counts.items() if o == outcome)

    @property
    def accepted(self) -> int:
        return self.total("accepted")

    @property
    def duplicates(self) -> int:
        return self.total("duplicate")

    @property
    def conflicted(self) -> int:
        return self.total("conflict")

    @property
    def rejected(self) -> int:
        return self.total("rejected")


@dataclass(slots=True)
class _Call:
    """The events of one call in a batch: the first of each kind counts."""

    call_id: str
    started: Event | None = None
    finished: Event | None = None

    @property
    def tenant_id(self) -> str:
        event = self.finished or self.started
        if event is None:  # pragma: no cover - a _Call is made for an event
            raise ValueError("a call without events")
        tenant_id: str = event["tenant_id"]
        return tenant_id

    @property
    def events(self) -> list[Event]:
        return [e for e in (self.started, self.finished) if e is not None]

    def count(self, result: IngestResult, outcome: Outcome) -> None:
        for event in self.events:
            result.counts[(event["kind"], outcome)] += 1


async def ingest_events(
    session: AsyncSession, events: Sequence[CallEvent], *, now: datetime | None = None
) -> IngestResult:
    """Apply a batch of events to model_calls (not committed: the caller commits)."""
    batch = check([event_of(e) for e in events])
    return await ingest(await session.connection(), batch, now=now)


async def ingest(
    conn: AsyncConnection, batch: Batch, *, now: datetime | None = None
) -> IngestResult:
    """Apply a batch read by `usage.events` in the caller's transaction.

    Its malformed events are not counted here (they have no kind to count by).
    """
    now = now or utcnow()
    result = IngestResult()
    # events whose call and kind the database already holds: duplicates or conflicts
    repeats: list[Event] = []
    calls = _group(batch, result, repeats)
    if not calls:
        return result
    known = await _known_tenants(conn, {call.tenant_id for call in calls.values()})
    _reject_strangers(calls, known, repeats, result)
    if not calls:
        return result

    ids = sorted(calls)
    await _lock_ids(conn, ids)
    states = await _states(conn, ids)
    new: list[_Call] = []
    closing: list[_Call] = []
    for call_id in ids:
        call = calls[call_id]
        state = states.get(call_id)
        if state is None:
            new.append(call)
        elif call.finished is not None and is_open(*state):
            closing.append(call)
        else:
            repeats.extend(call.events)

    inserted = await _insert(conn, new, now)
    finals: list[_Call] = []
    for call in new:
        if call.call_id in inserted:
            call.count(result, "accepted")
            if call.finished is not None:
                finals.append(call)
        elif call.finished is not None:
            # a concurrent batch inserted this call first: close it like any existing row
            closing.append(call)
        else:
            repeats.extend(call.events)

    closed = await _close(conn, closing, now)
    for call in closing:
        if call.started is not None:
            repeats.append(call.started)
        if call.call_id in closed:
            result.counts[("finished", "accepted")] += 1
            finals.append(call)
        else:
            repeats.append(_finished(call))
    await _judge(conn, repeats, result, now)

    # the calls whose first final state this batch wrote: each is charged once
    ended = [_finished(c) for c in finals]
    charged = await charge_calls(
        conn, [Charge(e["call_id"], e["tenant_id"], float(e["cost_usd"])) for e in ended], now
    )
    await _touch_tokens(conn, ended, charged)
    return result


def _group(batch: Batch, result: IngestResult, repeats: list[Event]) -> dict[str, _Call]:
    """The batch's storable events by call; repeats within the batch go to `repeats`."""
    calls: dict[str, _Call] = {}
    for event, _reason in batch.refused:
        result.counts[(event["kind"], "rejected")] += 1
    for event in batch.events:
        kind = event["kind"]
        call_id = event["call_id"]
        call = calls.get(call_id)
        if call is None:
            call = calls[call_id] = _Call(call_id)
        if kind == "started" and call.started is None:
            call.started = event
        elif kind == "finished" and call.finished is None:
            call.finished = event
        else:
            repeats.append(event)
    if batch.refused:
        # one line per batch: a sender bug would otherwise write a line per event
        event, reason = batch.refused[0]
        log.warning(
            "refused %d telemetry event(s) that fit no row, e.g. %.64s: %s",
            len(batch.refused),
            event["id"],
            reason,
        )
    return calls


async def _judge(
    conn: AsyncConnection, repeats: Sequence[Event], result: IngestResult, now: datetime
) -> None:
    """Count each repeat as a duplicate, or as a conflict where it differs from its call's row."""
    differ = await conflicting(conn, repeats, now)
    for n, event in enumerate(repeats):
        result.counts[(event["kind"], "conflict" if n in differ else "duplicate")] += 1
        if n in differ:
            result.conflicts.append(event["id"])
    if result.conflicts:
        # ids only: an event's content is the tenant's usage, not for the log
        log.warning(
            "refused %d telemetry event(s) that conflict with their recorded call, e.g. ids %s",
            len(result.conflicts),
            ", ".join(f"{cid:.64}" for cid in result.conflicts[:_LOGGED_IDS]),
        )


def _reject_strangers(
    calls: dict[str, _Call], known: set[str], repeats: list[Event], result: IngestResult
) -> None:
    """Take the calls of unknown tenants out of `calls`, and their repeats out of `repeats`."""
    strangers = [calls.pop(cid) for cid in list(calls) if calls[cid].tenant_id not in known]
    if not strangers:
        return
    for call in strangers:
        call.count(result, "rejected")
    gone = {call.call_id for call in strangers}
    for event in repeats:
        if event["call_id"] in gone:
            result.counts[(event["kind"], "rejected")] += 1
    repeats[:] = [e for e in repeats if e["call_id"] not in gone]
    log.warning(
        "refused telemetry of %d call(s) of unknown tenants, e.g. %s",
        len(strangers),
        strangers[0].tenant_id,
    )


async def _known_tenants(conn: AsyncConnection, tenant_ids: set[str]) -> set[str]:
    rows = await bulk.with_batch(conn, _IDS, [(t,) for t in sorted(tenant_ids)], _KNOWN_TENANTS)
    return {row[0] for row in rows}


async def _lock_ids(conn: AsyncConnection, call_ids: Sequence[str]) -> None:
    """On PostgreSQL, hold an advisory lock per call id until commit, taken in id order.

    Row locks only cover calls that already have rows; these also order the
    batches that insert the same new calls, so overlapping batches queue.
    """
    if conn.dialect.name != "postgresql" or not call_ids:
        return
    await conn.execute(_ADVISORY_LOCKS, {"ids": list(call_ids)})


async def _states(
    conn: AsyncConnection, call_ids: Sequence[str]
) -> dict[str, tuple[str, str | None]]:
    """(status, error_code) of the calls that have rows.

    On PostgreSQL the rows stay locked until commit, taken in id order so
    overlapping batches queue behind each other instead of deadlocking.
    """
    rows = await bulk.with_batch(
        conn, _IDS, [(c,) for c in call_ids], _STATES, postgres_suffix=" FOR UPDATE"
    )
    return {row[0]: (row[1], row[2]) for row in rows}


async def _insert(conn: AsyncConnection, calls: Sequence[_Call], now: datetime) -> set[str]:
    """Insert the rows of calls seen for the first time; the ids actually inserted."""
    rows = [
        records.finished_row(call.finished, call.started, now)
        if call.finished is not None
        else records.started_row(_started(call), now)
        for call in calls
    ]
    return {row[0] for row in await bulk.with_batch(conn, records.ROW_COLUMNS, rows, _INSERT)}


async def _close(conn: AsyncConnection, calls: Sequence[_Call], now: datetime) -> set[str]:
    """Write the final state of open calls; the ids actually closed.

    The WHERE clause re-checks that the row is open, so a row closed meanwhile
    by another batch keeps its first final state.
    """
    rows = [records.close_row(_finished(call), now) for call in calls]
    return {row[0] for row in await bulk.with_batch(conn, records.CLOSE_COLUMNS, rows, _CLOSE)}


async def _touch_tokens(conn: AsyncConnection, ended: Sequence[Event], charged: set[str]) -> None:
    """Add the cost of calls charged just now to their tokens' running totals, and
    move each token's ``last_used_at`` to its latest call that ended here.

    One statement for the whole batch: a key's last use is written with the
    telemetry that reports it, never by a write per request.
    """
    deltas: dict[str, float] = {}
    used: dict[str, float] = {}
    for event in ended:
        token_id, at = event["token_id"], event["at"]
        if at > used.get(token_id, 0.0):
            used[token_id] = at
        cost = float(event["cost_usd"])
        if cost > 0 and event["call_id"] in charged:
            deltas[token_id] = deltas.get(token_id, 0.0) + cost
    if not used:
        return
    rows = [(t, deltas.get(t, 0.0), datetime.fromtimestamp(used[t], UTC)) for t in sorted(used)]
    if conn.dialect.name == "postgresql":
        # the UPDATE's join takes row locks in no set order: take them in id order
        # first, like every other lock of ingest, so overlapping batches queue
        await bulk.with_batch(conn, _IDS, [(t,) for t, _, _ in rows], _LOCK_TOKENS + " FOR UPDATE")
    await bulk.with_batch(conn, _TOKENS, rows, _TOUCH_TOKENS)


def _finished(call: _Call) -> Event:
    if call.finished is None:  # pragma: no cover - callers pass calls with a finished event
        raise ValueError("call has no finished event")
    return call.finished


def _started(call: _Call) -> Event:
    if call.started is None:  # pragma: no cover - a call has at least one event
        raise ValueError("call has no started event")
    return call.started
