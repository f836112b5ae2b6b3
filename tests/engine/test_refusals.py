"""Every refusal is JSON in the caller's protocol, with a stable code; never a 500."""

from __future__ import annotations

import time

import pytest

from junction_engine.client_keys import hash_key
from tests.engine.conftest import KEY, MOCK_KEY, build_engine
from tests.support.routes import deployment, model_route, route

HELLO = [{"role": "user", "content": "hi"}]


def _openai_error(resp, status: int, code: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    error = resp.json()["error"]
    assert error["code"] == code
    assert set(error) >= {"message", "type", "param", "code"}
    return error  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_request"),
        (b'{"messages": []}', "missing_model"),
        (b'{"model": 42, "messages": [{"role": "user", "content": "x"}]}', "invalid_model"),
        (b'{"model": "gpt"}', "missing_messages"),
        (b'{"model": "gpt", "messages": [], "stream": "yes"}', "invalid_messages"),
        (
            b'{"model": "gpt", "messages": [{"role":"user","content":"x"}], "stream": "yes"}',
            "invalid_stream",
        ),
        (b"", "invalid_request"),
    ],
)
async def test_bad_bodies_are_400(body: bytes, code: str) -> None:
    async with build_engine() as e:
        resp = await e.client.post("/v1/chat/completions", content=body)
        error = _openai_error(resp, 400, code)
        assert error["type"] == "invalid_request_error"


async def test_unknown_model_is_404_with_the_param() -> None:
    async with build_engine() as e:
        resp = await e.client.post(
            "/v1/chat/completions", json={"model": "nope", "messages": HELLO}
        )
        error = _openai_error(resp, 404, "model_not_found")
        assert error["param"] == "model"


async def test_missing_and_bad_keys_are_401() -> None:
    async with build_engine() as e:
        resp = await e.client.post(
            "/v1/chat/completions",
            json={"model": "gpt", "messages": HELLO},
            headers={"authorization": ""},
        )
        _openai_error(resp, 401, "missing_api_key")
        resp = await e.client.post(
            "/v1/chat/completions",
            json={"model": "gpt", "messages": HELLO},
            headers={"authorization": "Bearer jk-wrong"},
        )
        error = _openai_error(resp, 401, "invalid_api_key")
        assert "jk-wrong" not in str(error)


async def test_x_api_key_header_is_accepted() -> None:
    async with build_engine() as e:
        resp = await e.client.get("/v1/models", headers={"authorization": "", "x-api-key": KEY})
        assert resp.status_code == 200


async def test_oversized_body_is_413() -> None:
    async with build_engine(max_body_bytes=1024) as e:
        big = {"model": "gpt", "messages": [{"role": "user", "content": "x" * 5000}]}
        resp = await e.client.post("/v1/chat/completions", json=big)
        _openai_error(resp, 413, "request_too_large")
        assert await e.upstream_requests() == []


async def test_revoked_expired_and_disallowed_keys_are_refused() -> None:
    gpt = model_route(name="gpt", deployments=(deployment("mock-gpt", key=MOCK_KEY),))
    other = model_route(name="other", deployments=(deployment("mock-gpt", key=MOCK_KEY),))
    routes = {
        hash_key("revoked"): route(gpt, revoked=True),
        hash_key("expired"): route(gpt, expires_at=time.time() - 1),
        hash_key("narrow"): route(gpt, other, allowed=("gpt",)),
    }
    async with build_engine(routes) as e:

        def post(key: str, model: str = "gpt"):  # type: ignore[no-untyped-def]
            return e.client.post(
                "/v1/chat/completions",
                json={"model": model, "messages": HELLO},
                headers={"authorization": f"Bearer {key}"},
            )

        _openai_error(await post("revoked"), 401, "revoked_api_key")
        _openai_error(await post("expired"), 401, "expired_api_key")
        _openai_error(await post("narrow", "other"), 403, "model_not_allowed")
        assert (await post("narrow")).status_code == 200
        listed = await e.client.get("/v1/models", headers={"authorization": "Bearer narrow"})
        # the allowed model, and the direct name of its one deployment
        assert [m["id"] for m in listed.json()["data"]] == ["gpt", "mock-openai/mock-gpt"]
        assert (await post("narrow", "mock-openai/mock-gpt")).status_code == 200


async def test_control_plane_down_unknown_key_is_503_known_key_is_served() -> None:
    async with build_engine(route_ttl_seconds=0.01) as e:
        assert (await e.client.get("/v1/models")).status_code == 200
        e.control.down = True
        time.sleep(0.02)
        resp = await e.client.post("/v1/chat/completions", json={"model": "gpt", "messages": HELLO})
        assert resp.status_code == 200  # stale-if-error
        other = await e.client.get("/v1/models", headers={"authorization": "Bearer jk-unseen"})
        _openai_error(other, 503, "control_plane_unavailable")


async def test_unknown_path_and_method_are_json() -> None:
    async with build_engine() as e:
        resp = await e.client.get("/v1/nothing-here")
        _openai_error(resp, 404, "not_found")
        resp = await e.client.get("/v1/chat/completions")
        _openai_error(resp, 405, "method_not_allowed")
