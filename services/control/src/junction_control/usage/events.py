"""Reading a telemetry body into events that fit a row, fast: plain dicts, no object per event.

Two sets of rules decide what is stored:

- the contract's (`junction_contracts.telemetry.parse_batch` and
  `CallEvent.from_dict`): a wrong version or shape refuses the batch, a
  malformed event is skipped and counted (``malformed``);
- the columns' (`refusal`): an event the contract lets through may still not
  fit a row (a string longer than its column, a time past year 9999). Such an
  event is refused alone, so one odd event never costs the rest of its batch.

Both are applied to the parsed JSON directly: building and checking a
`CallEvent` per event would cost more than the rest of ingest together. A
test holds `read_event` to the contract's verdict and values, event by event.
A batch of well-formed events (what engines send) is checked one field at a
time across all its events, in C loops (`map`, `set`, `min`); only a batch
that fails that is looked at event by event, for the exact verdicts.

An `Event` is a dict holding every `CallEvent` field (defaults filled in);
its ``attempt_log`` is a list of `AttemptNote` dicts, each with every field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import MISSING, dataclass, field, fields
from operator import itemgetter
from typing import Any

import orjson

from junction_contracts.errors import ContractError
from junction_contracts.telemetry import (
    ATTEMPT_OUTCOMES,
    CALL_STATUSES,
    MAX_ATTEMPT_NOTES,
    TELEMETRY_VERSION,
    AttemptNote,
    CallEvent,
    read_attempt_log,
)
from junction_control.usage.models import (
    ERROR_CODE_CHARS,
    ID_CHARS,
    LABEL_CHARS,
    MODEL_CHARS,
    REFUSED,
    REQUEST_ID_CHARS,
    TENANT_ID_CHARS,
    TRACE_ID_CHARS,
)

Event = dict[str, Any]

_FIELDS = fields(CallEvent)
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in _FIELDS)
_KNOWN = frozenset(FIELD_NAMES)
_REQUIRED = frozenset(f.name for f in _FIELDS if f.default is MISSING)
_DEFAULTS: Event = {f.name: f.default for f in _FIELDS if f.default is not MISSING}
_DEFAULTS["attempt_log"] = None  # what the contract reads as no attempt, like a missing log
_NOTE_KEYS = frozenset(f.name for f in fields(AttemptNote))
_OUTCOMES = frozenset(ATTEMPT_OUTCOMES)

# the contract's checks
_NAMES = ("id", "call_id", "tenant_id", "token_id", "model")
_NUMBERS = ("at", "started_at", "cost_usd")
_OPTIONAL_NUMBERS = ("latency_ms", "ttft_ms")
COUNTS = (
    "attempts",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_input_tokens",
    "reasoning_tokens",
    "images",
)
FLAGS = ("stream", "usage_estimated", "partial")
# a tuple, not a set: a status of the wrong JSON type (a list) must not raise
_STATUSES: tuple[str, ...] = CALL_STATUSES

# the columns' checks
MAX_INT = 2**31 - 1  # the INTEGER columns of PostgreSQL
MAX_TIMESTAMP = 253402300799.0  # 9999-12-31T23:59:59Z
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
    ("request_id", REQUEST_ID_CHARS),
)

# what the whole-batch check lets through; anything else is looked at event by event
_KIND_STATUS = frozenset({("started", None)} | {("finished", s) for s in _STATUSES})
_NUMBER_TYPES = frozenset({int, float})
_STR = {str}


@dataclass(slots=True)
class Batch:
    """A telemetry body read: the events to store and what was left out."""

    events: list[Event]
    malformed: int = 0  # refused by the contract
    refused: list[tuple[Event, str]] = field(default_factory=list)  # fit no row, and why


def loads(body: bytes) -> Any:
    """Parse JSON with orjson; what orjson refuses (NaN, huge integers, UTF-16) goes to json.

    So the body is read exactly as the standard library would read it, only faster.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def read_batch(data: Any) -> Batch:
    """The events of a parsed telemetry body; ContractError unless it is a batch of this version."""
    if not isinstance(data, dict) or data.get("version") != TELEMETRY_VERSION:
        raise ContractError(f"telemetry version must be {TELEMETRY_VERSION}")
    raw = data.get("events")
    if not isinstance(raw, list):
        raise ContractError("'events' must be a list")
    if _all_good(raw):
        return Batch(raw)
    events = [event for event in map(read_event, raw) if event is not None]
    batch = check(events)
    batch.malformed = len(raw) - len(events)
    return batch


def check(events: list[Event]) -> Batch:
    """`events` (contract-valid) split into those that fit a row and those refused."""
    batch = Batch([])
    for event in events:
        reason = refusal(event)
        if reason is None:
            batch.events.append(event)
        else:
            batch.refused.append((event, reason))
    return batch


def read_event(item: Any) -> Event | None:
    """One event with its defaults filled in, or None where `CallEvent.from_dict` refuses it."""
    if not isinstance(item, dict) or not item.keys() >= _REQUIRED:
        return None
    event = _DEFAULTS | item
    if len(event) != len(FIELD_NAMES):
        # a newer engine's extra fields: ignored, like the contract does
        event = {k: v for k, v in event.items() if k in _KNOWN}
    if not _valid(event):
        return None
    try:
        event["attempt_log"] = [n.to_dict() for n in read_attempt_log(event["attempt_log"])]
    except ContractError:
        return None
    return event


def event_of(event: CallEvent) -> Event:
    """The dict form of a `CallEvent` (its attempt notes as dicts too)."""
    found = {name: getattr(event, name) for name in FIELD_NAMES}
    found["attempt_log"] = [note.to_dict() for note in event.attempt_log]
    return found


def refusal(event: Event) -> str | None:
    """Why a contract-valid `event` cannot be stored, or None when it fits a row."""
    for name, width in _REQUIRED_TEXT:
        value = event[name]
        if not isinstance(value, str) or not value or len(value) > width:
            return f"{name} must be a non-empty string of at most {width} characters"
    for name, width in _OPTIONAL_TEXT:
        value = event[name]
        if value is not None and (not isinstance(value, str) or len(value) > width):
            return f"{name} must be a string of at most {width} characters"
    for name in FLAGS:
        if not isinstance(event[name], bool):
            return f"{name} must be a boolean"
    started_at = event["started_at"]
    if not _is_time(event["at"]) or not (started_at == 0 or _is_time(started_at)):
        return "at and started_at must be unix times"
    if event["kind"] == "started":
        return None
    for note in event["attempt_log"]:
        reason = _note_refusal(note)
        if reason is not None:
            return reason
    for name in COUNTS:
        if event[name] > MAX_INT:
            return f"{name} is out of range"
    status = event["http_status"]
    if status is not None and (
        isinstance(status, bool) or not isinstance(status, int) or not 0 <= status <= 999
    ):
        return "http_status must be an HTTP status code"
    if not _is_number(event["cost_usd"]) or event["cost_usd"] < 0:
        return "cost_usd must be a non-negative number"
    if event["status"] == REFUSED and event["cost_usd"] != 0:
        # the contract's rule too; here for events handed in as objects (`ingest_events`)
        return "a refused call costs nothing: cost_usd must be 0"
    for name in _OPTIONAL_NUMBERS:
        value = event[name]
        if value is not None and (not _is_number(value) or value < 0):
            return f"{name} must be a non-negative number"
    return None


def _note_refusal(note: dict[str, Any]) -> str | None:
    """Why a contract-valid attempt note cannot be stored with its call, or None."""
    for name in ("deployment_id", "provider_id", "credential_id"):
        value = note[name]
        if value is not None and len(value) > ID_CHARS:
            return f"attempt {name} must be at most {ID_CHARS} characters"
    if note["error_code"] is not None and len(note["error_code"]) > ERROR_CODE_CHARS:
        return f"attempt error_code must be at most {ERROR_CODE_CHARS} characters"
    status = note["http_status"]
    if status is not None and not 0 <= status <= 999:
        return "attempt http_status must be an HTTP status code"
    return None


def _logs_good(logs: list[Any]) -> bool:
    """Whether every attempt log holds complete, storable notes (as `read_event` keeps them).

    Checked a field at a time across every note of the batch, as the events
    are: `AttemptNote.from_dict`'s rules and `_note_refusal`'s widths, with
    exact types (a subclass only sends the batch down the slow path).
    """
    if _types(logs) != {list}:
        return False
    if max(map(len, logs)) > MAX_ATTEMPT_NOTES:
        return False
    notes = [note for log in logs for note in log]
    if not notes:
        return True
    if _types(notes) != {dict} or any(note.keys() != _NOTE_KEYS for note in notes):
        return False
    cols = {name: list(map(itemgetter(name), notes)) for name in _NOTE_KEYS}
    for name in ("deployment_id", "provider_id"):
        values = cols[name]
        if _types(values) != _STR or min(map(len, values)) < 1 or max(map(len, values)) > ID_CHARS:
            return False
    if not set(cols["outcome"]) <= _OUTCOMES:
        return False
    if not _non_negative(cols["latency_ms"]):
        return False
    for name, width in (("credential_id", ID_CHARS), ("error_code", ERROR_CODE_CHARS)):
        values = [v for v in cols[name] if v is not None]
        if values and (_types(values) != _STR or max(map(len, values)) > width):
            return False
    statuses = [v for v in cols["http_status"] if v is not None]
    return not statuses or (
        _types(statuses) == {int} and min(statuses) >= 0 and max(statuses) <= 999
    )


def _valid(e: Event) -> bool:
    """`CallEvent.from_dict`'s checks, on a dict holding every field."""
    kind = e["kind"]
    if kind != "started" and kind != "finished":
        return False
    if kind == "finished" and e["status"] not in _STATUSES:
        return False
    for name in _NAMES:
        value = e[name]
        if not isinstance(value, str) or not value:
            return False
    for name in _NUMBERS:
        if not _non_negative((e[name],)):
            return False
    for name in _OPTIONAL_NUMBERS:
        value = e[name]
        if value is not None and not _non_negative((value,)):
            return False
    if kind == "finished" and e["status"] == REFUSED and e["cost_usd"] != 0:
        return False
    if not all(isinstance(e[name], bool) for name in FLAGS):
        return False
    status = e["http_status"]
    if status is not None and (isinstance(status, bool) or not isinstance(status, int)):
        return False
    # bools pass as counts, as in the contract: they are ints
    return all(isinstance(e[name], int) and e[name] >= 0 for name in COUNTS)


def _all_good(raw: list[Any]) -> bool:
    """Whether every item of `raw` is a complete event that passes both sets of rules.

    Checked one field at a time across all items, at least as strictly as
    `read_event` and `refusal` (a started event's counts and status code are
    held to the finished rules, items must carry every field and no other):
    False only means "look at each one".
    """
    if not raw:
        return True
    if _types(raw) != {dict} or set(map(len, raw)) != {len(FIELD_NAMES)}:
        return False
    try:
        # every field present: with the count above, exactly the known ones
        cols = {name: list(map(itemgetter(name), raw)) for name in FIELD_NAMES}
        return _columns_good(cols)
    except (KeyError, TypeError):  # a field missing; a value that does not hash or compare
        return False


def _columns_good(cols: dict[str, list[Any]]) -> bool:
    kinds = set(zip(cols["kind"], cols["status"], strict=True))
    if not kinds <= _KIND_STATUS:
        return False
    if _types(cols["id"]) != _STR or not all(cols["id"]):
        return False
    for name, width in _REQUIRED_TEXT:
        values = cols[name]
        if _types(values) != _STR or min(map(len, values)) < 1 or max(map(len, values)) > width:
            return False
    for name, width in _OPTIONAL_TEXT:
        values = [v for v in cols[name] if v is not None]
        if values and (_types(values) != _STR or max(map(len, values)) > width):
            return False
    if any(_types(cols[name]) != {bool} for name in FLAGS):
        return False
    if not _logs_good(cols["attempt_log"]):
        return False
    at, started_at = cols["at"], cols["started_at"]
    if not (_non_negative(at) and _non_negative(started_at) and _non_negative(cols["cost_usd"])):
        return False
    if ("finished", REFUSED) in kinds and any(
        cost != 0
        for status, cost in zip(cols["status"], cols["cost_usd"], strict=True)
        if status == REFUSED
    ):
        return False
    if min(at) <= 0 or max(at) > MAX_TIMESTAMP or max(started_at) > MAX_TIMESTAMP:
        return False
    for name in _OPTIONAL_NUMBERS:
        if not _non_negative([v for v in cols[name] if v is not None]):
            return False
    for name in COUNTS:
        values = cols[name]
        if _types(values) != {int} or min(values) < 0 or max(values) > MAX_INT:
            return False
    statuses = [v for v in cols["http_status"] if v is not None]
    if not statuses:
        return True
    return _types(statuses) == {int} and min(statuses) >= 0 and max(statuses) <= 999


def _types(values: Iterable[Any]) -> set[type]:
    # exact types: bool is not int here
    return set(map(type, values))


def _non_negative(values: Sequence[Any]) -> bool:
    """Whether every value is an int or float (not a bool), finite and at least 0."""
    if not values:
        return True
    if not _types(values) <= _NUMBER_TYPES:
        return False
    try:
        return all(map(math.isfinite, values)) and min(values) >= 0
    except OverflowError:
        # an integer too large for a float: the contract's own check would crash on it
        return False


def _is_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _is_time(value: object) -> bool:
    return _is_number(value) and 0 < value <= MAX_TIMESTAMP  # type: ignore[operator]
