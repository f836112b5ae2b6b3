"""Provider extra headers in the engine: opened once from the route, never the forbidden ones."""

from __future__ import annotations

from dataclasses import replace

import pytest

from junction_contracts import DeploymentRoute, ProviderRoute
from junction_contracts.errors import SealError
from junction_contracts.provider_headers import REFUSED_HEADER_NAMES, seal_headers
from junction_contracts.sealing import derive_sealing_key
from junction_engine.client_keys import hash_key
from junction_engine.providers import upstream_request
from junction_engine.sealed_keys import OpenedKeys
from tests.engine.conftest import KEY, MOCK_KEY, build_engine
from tests.support.routes import SECRET, deployment, model_route, route

SEALING_KEY = derive_sealing_key(SECRET)


def _provider(sealed: str = "", **plain: str) -> ProviderRoute:
    return ProviderRoute(
        id="prov-1",
        name="p",
        type="openai-compatible",
        base_url="http://mock/v1",
        extra_headers=dict(plain),
        sealed_headers=sealed,
    )


def test_names_the_gateway_sets_itself_are_dropped_whatever_the_route_says() -> None:
    smuggled = {name: "evil" for name in REFUSED_HEADER_NAMES} | {
        "Host": "evil.test",
        "AUTHORIZATION": "Bearer stolen",
        "x-split": "a\r\nx-injected: 1",
        "bad name": "x",
        "x-kept": "yes",
        "X-Case": "once",
    }
    up = upstream_request(
        _provider(), "sk-real", "m", "chat", stream=True, provider_headers=smuggled
    )
    assert up.headers["authorization"] == "Bearer sk-real"
    assert up.headers["x-kept"] == "yes"
    assert up.headers["x-case"] == "once"
    assert {n.lower() for n in up.headers} == {
        "content-type",
        "accept-encoding",
        "accept",
        "authorization",
        "x-kept",
        "x-case",
    }
    assert "evil" not in up.headers.values()


def test_sealed_headers_are_opened_once_and_merged_over_plain_ones() -> None:
    keys = OpenedKeys(SEALING_KEY)
    sealed = seal_headers(SEALING_KEY, "prov-1", {"x-team": "secret-team"})
    provider = _provider(sealed, **{"x-plain": "1", "x-team": "plain"})

    first = keys.headers(provider)
    assert first == {"x-plain": "1", "x-team": "secret-team"}
    assert keys.headers(provider) is first  # the second call is a lookup
    assert keys.headers(_provider(**{"x-plain": "1"})) == {"x-plain": "1"}


def test_sealed_headers_of_another_provider_do_not_open() -> None:
    keys = OpenedKeys(SEALING_KEY)
    sealed = seal_headers(SEALING_KEY, "prov-other", {"x-team": "t"})
    with pytest.raises(SealError):
        keys.headers(_provider(sealed))


def test_a_credentials_redactor_is_built_once() -> None:
    keys = OpenedKeys(SEALING_KEY)
    credential = deployment("m", key="sk-some-provider-key-0123456789").credentials[0]
    assert keys.redactor(credential) is keys.redactor(credential)
    assert "0123456789" not in keys.redactor(credential)("key sk-some-provider-key-0123456789")


async def test_the_provider_receives_its_sealed_headers_and_an_unopenable_one_fails_over() -> None:
    base = deployment("mock-gpt", key=MOCK_KEY, ptype="openai-compatible")
    sealed = seal_headers(SEALING_KEY, "prov-openai-compatible", {"x-route-token": "tok-123"})
    good = replace(base, provider=replace(base.provider, sealed_headers=sealed))
    broken = DeploymentRoute(
        id="dep-broken",
        provider=replace(base.provider, id="prov-broken", sealed_headers=sealed),
        upstream_model="mock-gpt",
        credentials=base.credentials,
    )
    models = (
        model_route(name="local", deployments=(good,)),
        model_route(name="broken", deployments=(broken,)),
    )
    async with build_engine({hash_key(KEY): route(*models)}) as e:
        ok = await e.client.post(
            "/v1/chat/completions",
            json={"model": "local", "messages": [{"role": "user", "content": "x"}]},
        )
        refused = await e.client.post(
            "/v1/chat/completions",
            json={"model": "broken", "messages": [{"role": "user", "content": "x"}]},
        )
        sent = await e.upstream_requests()
    assert ok.status_code == 200
    assert refused.status_code == 502
    assert refused.json()["error"]["code"] == "credential_unavailable"
    assert [r["headers"]["x-route-token"] for r in sent] == ["tok-123"]  # type: ignore[index]
