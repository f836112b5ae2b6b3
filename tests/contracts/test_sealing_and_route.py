from __future__ import annotations

import json

import pytest

from junction_contracts import ContractError, ModelRoute, Pricing, Route
from junction_contracts.errors import SealError
from junction_contracts.sealing import derive_sealing_key, seal, unseal
from tests.support.routes import deployment, route


def test_sealed_key_opens_only_with_the_same_secret_and_context() -> None:
    key = derive_sealing_key(b"x" * 48)
    sealed = seal(key, "sk-provider-secret", context="cred-1")
    assert "sk-provider-secret" not in sealed
    assert unseal(key, sealed, context="cred-1") == "sk-provider-secret"
    with pytest.raises(SealError):
        unseal(key, sealed, context="cred-2")
    with pytest.raises(SealError):
        unseal(derive_sealing_key(b"y" * 48), sealed, context="cred-1")
    with pytest.raises(SealError):
        unseal(key, sealed[:-4] + "AAAA", context="cred-1")
    with pytest.raises(SealError):
        unseal(key, "sk-plain", context="cred-1")


def test_route_round_trips_through_json_without_plain_keys() -> None:
    original = route(
        ModelRoute(
            name="m",
            deployments=(deployment("up", key="sk-very-secret"),),
            pricing=Pricing(free=True),  # kept through the wire
        ),
        allowed=("m",),
    )
    text = json.dumps(original.to_dict())
    assert "sk-very-secret" not in text
    assert Route.from_dict(json.loads(text)) == original


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(version=99),
        lambda d: d.pop("token"),
        lambda d: d["models"][0]["deployments"][0]["provider"].update(type="carrier-pigeon"),
        lambda d: d["models"][0].pop("deployments"),
    ],
)
def test_malformed_routes_raise_contract_error(mutate) -> None:  # type: ignore[no-untyped-def]
    data = route(ModelRoute(name="m", deployments=(deployment("up", key="k"),))).to_dict()
    mutate(data)
    with pytest.raises(ContractError):
        Route.from_dict(data)


def _event(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "e",
        "kind": "finished",
        "call_id": "c",
        "at": 1.0,
        "tenant_id": "t",
        "token_id": "k",
        "model": "m",
        "status": "success",
    }
    return {**base, **overrides}


def test_telemetry_events_round_trip_and_ignore_unknown_fields() -> None:
    from junction_contracts.telemetry import batch, parse_batch

    [event], invalid = parse_batch({"version": 1, "events": [_event(future_field=1)]})
    assert invalid == 0
    assert parse_batch(batch([event])) == ([event], 0)


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "middle"},
        {"status": None},
        {"input_tokens": -1},
        {"output_tokens": 1.5},
        {"at": float("nan")},
        {"cost_usd": float("inf")},
        {"latency_ms": "fast"},
        {"stream": "yes"},
        {"http_status": "200"},
        {"model": ""},
        {"status": "declined"},
        # a call refused before any provider was tried costs nothing
        {"status": "refused", "cost_usd": 0.01},
    ],
)
def test_malformed_telemetry_events_are_refused(bad: dict[str, object]) -> None:
    from junction_contracts.telemetry import CallEvent, parse_batch

    with pytest.raises(ContractError):
        CallEvent.from_dict(_event(**bad))
    # in a batch, only the bad event is left out
    events, invalid = parse_batch({"version": 1, "events": [_event(**bad), _event(id="ok")]})
    assert [e.id for e in events] == ["ok"]
    assert invalid == 1


def test_every_final_status_is_a_valid_finished_event() -> None:
    from junction_contracts.telemetry import CALL_STATUSES, CallEvent

    statuses = [CallEvent.from_dict(_event(status=s)).status for s in CALL_STATUSES]

    assert statuses == ["success", "failed", "cancelled", "refused"]
    assert CallEvent.from_dict(_event(status="refused", cost_usd=0)).cost_usd == 0


@pytest.mark.parametrize("body", [[], {"version": 2, "events": []}, {"version": 1}])
def test_a_batch_of_the_wrong_shape_is_refused_whole(body: object) -> None:
    from junction_contracts.telemetry import parse_batch

    with pytest.raises(ContractError):
        parse_batch(body)


def test_a_model_is_priced_when_it_has_a_price_or_is_free() -> None:
    assert not Pricing().priced
    assert not Pricing(cached_input_per_mtok=1.0).priced  # cached input alone bills nothing
    assert Pricing(output_per_mtok=0.1).priced
    assert Pricing(free=True).priced
