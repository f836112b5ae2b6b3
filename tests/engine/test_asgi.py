"""The client API's POST paths, served without Starlette's router: same answers, same guards."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.engine.conftest import build_engine

HELLO = [{"role": "user", "content": "hi"}]


async def test_hot_paths_answer_and_other_methods_still_get_405() -> None:
    async with build_engine() as e:
        ok = await e.client.post("/v1/chat/completions", json={"model": "gpt", "messages": HELLO})
        assert ok.status_code == 200
        assert ok.json()["object"] == "chat.completion"
        wrong = await e.client.get("/v1/chat/completions")
        assert wrong.status_code == 405
        assert wrong.json()["error"]["type"] == "invalid_request_error"
        # a path near a hot one is not taken for it
        near = await e.client.post("/v1/chat/completions/", json={})
        assert near.status_code in (307, 404)


async def test_a_handler_that_fails_answers_500_in_the_callers_protocol(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(request: Any) -> Any:
        raise RuntimeError("sk-secret-in-a-bug")

    async with build_engine() as e:
        # the hot table was built from the module's handlers: replace the one in use
        monkeypatch.setitem(e.app._hot, "/v1/messages", broken)  # type: ignore[attr-defined]
        with caplog.at_level(logging.ERROR, logger="junction.engine"):
            resp = await e.client.post(
                "/v1/messages", json={"model": "gpt", "max_tokens": 5, "messages": HELLO}
            )
    assert resp.status_code == 500
    body = resp.json()
    assert body["type"] == "error"  # Anthropic's error shape
    assert body["error"]["type"] == "api_error"
    assert "sk-secret" not in resp.text
    assert any("unexpected error" in r.getMessage() for r in caplog.records)


async def test_a_client_leaving_while_its_body_is_read_is_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with build_engine() as e:
        messages: list[dict[str, Any]] = [
            {"type": "http.request", "body": b'{"model": "gpt", ', "more_body": True},
            {"type": "http.disconnect"},
        ]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return messages.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/chat/completions",
            "raw_path": b"/v1/chat/completions",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"authorization", e.client.headers["authorization"].encode()),
                (b"content-type", b"application/json"),
                (b"content-length", b"500"),
            ],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8090),
        }
        with caplog.at_level(logging.WARNING):
            await e.app(scope, receive, send)
    assert sent == []  # nobody to answer
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
