from __future__ import annotations

import json

import pytest

from junction_contracts import ContractError, ModelRoute, Route
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
        ModelRoute(name="m", deployments=(deployment("up", key="sk-very-secret"),)),
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
