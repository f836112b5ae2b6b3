"""Reading telemetry bodies: the control plane's fast reader agrees with the contract.

`usage.events` reads batches from orjson's dicts instead of building a
`CallEvent` per event. These tests hold it to the contract's verdict and
values for every field and many odd values, both when a whole batch is
checked at once and when a bad event sends it down the event-by-event path.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import pytest

from junction_contracts.errors import ContractError
from junction_contracts.telemetry import AttemptNote, CallEvent, parse_batch
from junction_control.usage.events import loads, read_batch, read_event, refusal

from .test_telemetry import REFUSED_FIELDS

NOW = time.time()

STARTED: dict[str, Any] = CallEvent(
    id="e-start",
    kind="started",
    call_id="call-1",
    at=NOW - 2,
    tenant_id="tenant-1",
    token_id="token-1",
    model="chat",
    stream=True,
    started_at=NOW - 2,
).to_dict()
FINISHED: dict[str, Any] = CallEvent(
    id="e-finish",
    kind="finished",
    call_id="call-1",
    at=NOW - 1,
    tenant_id="tenant-1",
    token_id="token-1",
    model="chat",
    stream=True,
    started_at=NOW - 2,
    status="success",
    http_status=200,
    deployment_id="dep",
    provider_id="prov",
    credential_id="cred",
    attempts=1,
    input_tokens=10,
    output_tokens=5,
    cost_usd=0.001,
    latency_ms=900.0,
    ttft_ms=80.0,
    trace_id="trace",
).to_dict()
# refused before any provider was tried: no attempt, no cost
REFUSED: dict[str, Any] = {**FINISHED, "id": "e-refuse", "call_id": "call-2", **REFUSED_FIELDS}

# values of every JSON type and the edges the rules care about
ODD_VALUES: list[Any] = [
    None,
    "",
    "x",
    "x" * 65,
    "x" * 250,
    -1,
    0,
    1,
    999,
    1000,
    2**31 - 1,
    2**31,
    2**63,
    -0.5,
    0.0,
    1.5,
    NOW,
    253402300799.0,
    253402300800.0,
    True,
    False,
    [],
    ["success"],
    {},
    "success",
    "failed",
    "refused",
    "started",
    "finished",
]


NOTE: dict[str, Any] = AttemptNote(
    deployment_id="dep",
    provider_id="prov",
    outcome="failed",
    latency_ms=12.5,
    credential_id="cred",
    http_status=503,
    error_code="upstream_unavailable",
).to_dict()


def note_variants() -> list[Any]:
    """Attempt logs: each note field missing or set to each odd value, and odd logs."""
    notes: list[Any] = [{k: v for k, v in NOTE.items() if k != name} for name in NOTE]
    notes += [{**NOTE, name: value} for name in NOTE for value in ODD_VALUES]
    notes += [{**NOTE, "from_a_newer_engine": 1}, {**NOTE, "outcome": "answered"}, [], "x", None]
    logs: list[Any] = [[note] for note in notes]
    logs += [[NOTE, {**NOTE, "outcome": "answered"}], [NOTE] * 16, [NOTE] * 17]
    logs += [[NOTE] * 16 + ["past the cap: never read"]]
    return logs


def contract_verdict(item: Any) -> dict[str, Any] | None:
    """What the contract makes of one event: its fields, or None when it refuses it."""
    try:
        found = dataclasses.asdict(CallEvent.from_dict(item))
    except ContractError:
        return None
    except OverflowError:
        # the contract's own check crashes on integers too large for a float;
        # the control plane refuses those events as malformed
        return None
    found["attempt_log"] = list(found["attempt_log"])  # JSON's shape: a list
    return found


def variants() -> list[dict[str, Any]]:
    """Both event kinds with each field set to each odd value, or missing, plus extras."""
    found = []
    for base in (STARTED, FINISHED, REFUSED):
        for name in base:
            found.append({k: v for k, v in base.items() if k != name})
            found.extend({**base, name: value} for value in ODD_VALUES)
        found.append({**base, "from_a_newer_engine": 1})
        found.append({k: base[k] for k in ("id", "kind", "call_id", "at", "tenant_id")})
        found.append({**{k: base[k] for k in list(base)[:7]}, "status": base["status"]})
        found.extend({**base, "attempt_log": log} for log in note_variants())
    return found


def read_three_ways(item: dict[str, Any]) -> list[Any]:
    """The event alone, alone in a batch (checked all at once), beside a malformed one."""
    alone = read_batch({"version": 1, "events": [item]})
    mixed = read_batch({"version": 1, "events": [item, {"kind": "started"}]})
    found: list[Any] = [read_event(item)]
    for batch, malformed_beside in ((alone, 0), (mixed, 1)):
        stored = batch.events + [e for e, _ in batch.refused]
        found.append(
            (stored, batch.malformed - malformed_beside, [reason for _, reason in batch.refused])
        )
    return found


def test_every_event_is_read_as_the_contract_reads_it() -> None:
    mismatches = []
    for item in variants():
        expected = contract_verdict(item)
        reasons = [] if expected is None or refusal(expected) is None else [refusal(expected)]
        in_batch = ([] if expected is None else [expected], int(expected is None), reasons)
        if read_three_ways(item) != [expected, in_batch, in_batch]:
            mismatches.append(item)
    assert mismatches == []
    assert len(variants()) > 1500


def test_a_batch_of_complete_events_is_read_as_it_came() -> None:
    events = [STARTED, FINISHED, {**FINISHED, "id": "e-3", "call_id": "call-3"}, REFUSED]

    batch = read_batch({"version": 1, "events": events})

    assert batch.events == events
    assert (batch.malformed, batch.refused) == (0, [])


def test_a_refused_call_that_claims_a_cost_is_malformed_in_every_batch() -> None:
    billed = {**REFUSED, "cost_usd": 0.01}

    for events in ([billed], [billed, FINISHED], [FINISHED, billed, STARTED]):
        batch = read_batch({"version": 1, "events": events})

        assert billed not in batch.events
        assert (batch.malformed, batch.refused) == (1, [])
    with pytest.raises(ContractError, match="refused call costs nothing"):
        CallEvent.from_dict(billed)
    # handed in as an object, past the contract: refused by the column rules
    assert refusal(billed) == "a refused call costs nothing: cost_usd must be 0"


def test_events_that_fit_no_column_are_refused_with_a_reason() -> None:
    long_model = {**FINISHED, "model": "m" * 201}
    far_future = {**STARTED, "at": 253402300800.0}
    huge_count = {**FINISHED, "output_tokens": 2**31}
    # the contract has no rule on a started event's counts: nothing is stored from them
    started_count = {**STARTED, "output_tokens": 2**31}

    batch = read_batch(
        {"version": 1, "events": [long_model, far_future, huge_count, started_count, FINISHED]}
    )

    assert batch.events == [started_count, FINISHED]
    assert [reason for _, reason in batch.refused] == [
        "model must be a non-empty string of at most 200 characters",
        "at and started_at must be unix times",
        "output_tokens is out of range",
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"version": 2, "events": []},
        {"events": []},
        {"version": 1, "events": {}},
        [],
        "batch",
    ],
)
def test_a_body_that_is_no_batch_of_this_version_is_refused_like_the_contract_does(
    body: Any,
) -> None:
    with pytest.raises(ContractError) as ours:
        read_batch(body)
    with pytest.raises(ContractError) as theirs:
        parse_batch(body)
    assert str(ours.value) == str(theirs.value)


def test_json_that_orjson_refuses_is_read_as_the_standard_library_reads_it() -> None:
    # NaN and integers past 64 bits are JSON to Python's json module, not to orjson
    body = json.dumps(
        {"version": 1, "events": [{**FINISHED, "cost_usd": float("nan")}, STARTED]}
    ).replace('"id": "e-start"', '"id": "e-start", "big": 123456789012345678901234567890')

    batch = read_batch(loads(body.encode()))

    assert batch.malformed == 1
    assert [e["id"] for e in batch.events] == ["e-start"]
    with pytest.raises(json.JSONDecodeError):
        loads(b"{not json")
