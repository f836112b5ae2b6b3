"""Recording the engine's telemetry events in model_calls, idempotently.

Per call (keyed by ``call_id``):

- ``started`` opens a ``processing`` row when the call has none; it never
  touches a row that exists.
- The first ``finished`` the database sees sets the final state: it inserts
  the row, or closes a ``processing`` one. Any later ``finished`` for the call
  changes nothing — the first final state wins, so a replay never counts twice.
- A row the stuck-call reaper closed (``failed`` / ``stuck``) is still open:
  the engine's ``finished`` event is the truth and replaces it.
- Events whose tenant does not exist (deleted since) are refused, as are
  events that do not fit a row (see `records.problem`).

Each event gets one outcome: ``accepted`` (it changed the call's row, or was
folded into the row its call got in this batch), ``duplicate`` (the row
already says what it says: a replay, a second ``finished``, a ``started``
after the ``finished``) or ``rejected``.

The first final state with a cost above zero also charges the tenant's
credit (`credits.service.charge_calls`) and adds the cost to its token's
``spent_usd`` (what the budget is checked against: it outlives the pruned
calls), in the same transaction. The ledger's unique call id is the
backstop for both: a row that is closed twice (an engine-reported
failed/stuck, then a later ``finished``) is charged and counted once.

A batch is one transaction. On PostgreSQL it first takes a transaction-scoped
advisory lock per call id, in id order, so overlapping batches queue behind
each other instead of deadlocking (row locks alone cannot cover the calls
that have no row yet). Then a bulk lookup of its call ids (rows locked on
PostgreSQL), one multi-row
``INSERT … ON CONFLICT DO NOTHING`` per 500 new calls, one executemany UPDATE
for the calls it closes.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Table, and_, bindparam, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from junction_contracts.telemetry import CallEvent
from junction_control.columns import utcnow
from junction_control.credits.service import Charge, charge_calls
from junction_control.tenants.models import Tenant
from junction_control.tokens.models import UserToken
from junction_control.usage import records
from junction_control.usage.models import PROCESSING, STUCK, ModelCall, is_open

log = logging.getLogger(__name__)

Outcome = Literal["accepted", "duplicate", "rejected"]

# ids per statement: far below the bind-parameter limits of SQLite and asyncpg
# (about 32k), even for inserts of 30 columns per row
CHUNK = 500

_calls: Table = ModelCall.__table__  # type: ignore[attr-defined]
_tenants: Table = Tenant.__table__  # type: ignore[attr-defined]
_tokens: Table = UserToken.__table__  # type: ignore[attr-defined]


@dataclass(slots=True)
class IngestResult:
    """How many events of each kind ended with each outcome."""

    counts: Counter[tuple[str, Outcome]] = field(default_factory=Counter)

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
    def rejected(self) -> int:
        return self.total("rejected")


@dataclass(slots=True)
class _Call:
    """The events of one call in a batch: the first of each kind counts."""

    started: CallEvent | None = None
    finished: CallEvent | None = None

    @property
    def first(self) -> CallEvent:
        event = self.started or self.finished
        if event is None:  # pragma: no cover - a _Call is made for an event
            raise ValueError("a call without events")
        return event

    @property
    def call_id(self) -> str:
        return self.first.call_id

    @property
    def tenant_id(self) -> str:
        return (self.finished or self.first).tenant_id

    def events(self) -> list[CallEvent]:
        return [e for e in (self.started, self.finished) if e is not None]


async def ingest_events(
    session: AsyncSession, events: Sequence[CallEvent], *, now: datetime | None = None
) -> IngestResult:
    """Apply a batch of events to model_calls (not committed: the caller commits)."""
    now = now or utcnow()
    result = IngestResult()
    calls = _group(events, result)
    if not calls:
        return result
    conn = await session.connection()
    known = await _existing_tenants(conn, {call.tenant_id for call in calls.values()})
    strangers = [calls.pop(cid) for cid in list(calls) if calls[cid].tenant_id not in known]
    for call in strangers:
        _count(result, call.events(), "rejected")
    if strangers:
        log.warning(
            "refused telemetry of %d call(s) of unknown tenants, e.g. %s",
            len(strangers),
            strangers[0].tenant_id,
        )

    await _lock_ids(conn, sorted(calls))
    states = await _lock_rows(conn, sorted(calls))
    new: list[_Call] = []
    closing: list[_Call] = []
    for call_id in sorted(calls):
        call = calls[call_id]
        state = states.get(call_id)
        if state is None:
            new.append(call)
        elif call.finished is not None and is_open(*state):
            closing.append(call)
        else:
            _count(result, call.events(), "duplicate")

    inserted = await _insert(conn, new, now)
    for call in new:
        if call.call_id in inserted:
            _count(result, call.events(), "accepted")
        elif call.finished is not None:
            # a concurrent batch inserted this call first: close it like any existing row
            closing.append(call)
        else:
            _count(result, call.events(), "duplicate")

    closed = await _close(conn, closing, now, locked=states.keys())
    # the calls whose first final state this batch wrote: each is charged once
    finals = [c for c in new if c.finished is not None and c.call_id in inserted]
    finals += [c for c in closing if c.call_id in closed]
    charged = await charge_calls(
        conn,
        [Charge(c.call_id, c.tenant_id, float(_finished(c).cost_usd)) for c in finals],
        now,
    )
    await _add_spend(conn, [_finished(c) for c in finals if c.call_id in charged])
    for call in closing:
        outcome: Outcome = "accepted" if call.call_id in closed else "duplicate"
        result.counts[("finished", outcome)] += 1
        if call.started is not None:
            result.counts[("started", "duplicate")] += 1
    return result


def _group(events: Sequence[CallEvent], result: IngestResult) -> dict[str, _Call]:
    """The batch's storable events by call; repeats within the batch are duplicates."""
    calls: dict[str, _Call] = {}
    refused: list[tuple[CallEvent, str]] = []
    for event in events:
        reason = records.problem(event)
        if reason is not None:
            refused.append((event, reason))
            _count(result, [event], "rejected")
            continue
        call = calls.setdefault(event.call_id, _Call())
        if event.kind == "started" and call.started is None:
            call.started = event
        elif event.kind == "finished" and call.finished is None:
            call.finished = event
        else:
            _count(result, [event], "duplicate")
    if refused:
        # one line per batch: a sender bug would otherwise write a line per event
        event, reason = refused[0]
        log.warning(
            "refused %d telemetry event(s) that fit no row, e.g. %.64s: %s",
            len(refused),
            event.id,
            reason,
        )
    return calls


def _count(result: IngestResult, events: Iterable[CallEvent], outcome: Outcome) -> None:
    for event in events:
        result.counts[(event.kind, outcome)] += 1


def _open_clause() -> ColumnElement[bool]:
    # `is_open` in SQL
    return or_(
        _calls.c.status == PROCESSING,
        and_(_calls.c.status == "failed", _calls.c.error_code == STUCK),
    )


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    return (items[i : i + CHUNK] for i in range(0, len(items), CHUNK))


async def _existing_tenants(conn: AsyncConnection, tenant_ids: set[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(sorted(tenant_ids)):
        rows = await conn.execute(select(_tenants.c.id).where(_tenants.c.id.in_(chunk)))
        found.update(rows.scalars())
    return found


async def _lock_ids(conn: AsyncConnection, call_ids: Sequence[str]) -> None:
    """On PostgreSQL, hold an advisory lock per call id until commit, taken in id order.

    Row locks only cover calls that already have rows; these also order the
    batches that insert the same new calls, so overlapping batches queue.
    """
    if conn.dialect.name != "postgresql" or not call_ids:
        return
    # one statement: the sorted subquery fixes the order the locks are taken in
    await conn.execute(
        text(
            "SELECT pg_advisory_xact_lock(hashtextextended(ids.id, 0)) FROM "
            "(SELECT id FROM unnest(CAST(:ids AS text[])) WITH ORDINALITY AS u(id, n) "
            "ORDER BY n) AS ids"
        ).bindparams(ids=list(call_ids))
    )


async def _add_spend(conn: AsyncConnection, finals: Sequence[CallEvent]) -> None:
    """Add the cost of calls charged just now to their tokens' running totals."""
    deltas: dict[str, float] = {}
    for event in finals:
        if event.cost_usd > 0:
            deltas[event.token_id] = deltas.get(event.token_id, 0.0) + float(event.cost_usd)
    if not deltas:
        return
    # spent = spent + delta in SQL, in id order like every other lock of ingest
    statement = (
        update(_tokens)
        .where(_tokens.c.id == bindparam("tid"))
        .values(spent_usd=_tokens.c.spent_usd + bindparam("delta"))
    )
    await conn.execute(statement, [{"tid": t, "delta": deltas[t]} for t in sorted(deltas)])


async def _lock_rows(
    conn: AsyncConnection, call_ids: Sequence[str]
) -> dict[str, tuple[str, str | None]]:
    """(status, error_code) of the calls that have rows.

    On PostgreSQL the rows stay locked until commit, taken in id order so
    overlapping batches queue behind each other instead of deadlocking.
    """
    states: dict[str, tuple[str, str | None]] = {}
    for chunk in _chunks(call_ids):
        rows = await conn.execute(
            select(_calls.c.id, _calls.c.status, _calls.c.error_code)
            .where(_calls.c.id.in_(chunk))
            .order_by(_calls.c.id)
            .with_for_update()
        )
        states.update((row.id, (row.status, row.error_code)) for row in rows)
    return states


async def _insert(conn: AsyncConnection, calls: Sequence[_Call], now: datetime) -> set[str]:
    """Insert the rows of calls seen for the first time; the ids actually inserted."""
    rows = [
        records.started_row(call.started, now)
        if call.finished is None and call.started is not None
        else records.finished_row(_finished(call), call.started, now)
        for call in calls
    ]
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    inserted: set[str] = set()
    for chunk in _chunks(rows):
        statement = (
            insert(_calls)
            .values(list(chunk))
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(_calls.c.id)
        )
        inserted.update((await conn.execute(statement)).scalars())
    return inserted


async def _close(
    conn: AsyncConnection, calls: Sequence[_Call], now: datetime, *, locked: Iterable[str]
) -> set[str]:
    """Write the final state of open calls; the ids actually closed.

    The WHERE clause re-checks that the row is open, so a row closed meanwhile
    by another batch keeps its first final state.
    """
    statement = update(_calls).where(_calls.c.id == bindparam("call_id"), _open_clause())
    params = [
        {"call_id": call.call_id, **records.finished_values(_finished(call), now)} for call in calls
    ]
    closed: set[str] = set()
    if conn.dialect.name == "postgresql":
        # rows locked by _lock_rows are open until we commit: one executemany closes them
        held = set(locked)
        bulk = [p for p in params if p["call_id"] in held]
        if bulk:
            await conn.execute(statement, bulk)
            closed.update(p["call_id"] for p in bulk)
        params = [p for p in params if p["call_id"] not in held]
    # SQLite (in-process, a statement costs microseconds) and calls inserted by a
    # concurrent batch: one statement each, so the row count tells what happened
    for p in params:
        if (await conn.execute(statement, p)).rowcount:
            closed.add(p["call_id"])
    return closed


def _finished(call: _Call) -> CallEvent:
    if call.finished is None:  # pragma: no cover - callers pass calls with a finished event
        raise ValueError("call has no finished event")
    return call.finished
