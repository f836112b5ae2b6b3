"""`x-request-id` and trace context end to end in-process: client, provider, telemetry, log line.

Every answer carries the request's id (the client's when valid, else a new
one), the provider gets the same id and the client's W3C trace context, and
the call's telemetry and its log line say the same id.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from junction_contracts.log_format import JsonFormatter
from junction_engine.call_log import FIELDS
from tests.engine.conftest import KEY, MOCK_KEY, EngineHarness, build_engine

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
CANARY_PROMPT = "canary-prompt-7c1f0d"
HELLO = [{"role": "user", "content": CANARY_PROMPT}]
GOOGLE = {"x-goog-api-key": KEY}


def _call(client: str, stream: bool) -> tuple[str, dict[str, Any]]:
    """The path and body of a chat call in `client`'s protocol."""
    if client == "openai":
        return "/v1/chat/completions", {"model": "gpt", "messages": HELLO, "stream": stream}
    if client == "anthropic":
        body = {"model": "claude", "max_tokens": 16, "messages": HELLO, "stream": stream}
        return "/v1/messages", body
    action = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return f"/v1beta/models/gem:{action}", {"contents": [{"parts": [{"text": CANARY_PROMPT}]}]}


async def _finished(engine: EngineHarness) -> list[dict[str, Any]]:
    await engine.app.state.engine.telemetry.flush()
    return [ev for ev in engine.control.events if ev["kind"] == "finished"]


def _call_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    formatter = JsonFormatter()
    return [
        json.loads(formatter.format(r)) for r in caplog.records if r.name == "junction.engine.calls"
    ]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("client", ["openai", "anthropic", "gemini"])
async def test_a_client_request_id_is_the_same_in_answer_upstream_record_and_log(
    engine: EngineHarness, caplog: pytest.LogCaptureFixture, client: str, stream: bool
) -> None:
    caplog.set_level(logging.INFO, logger="junction.engine.calls")
    path, body = _call(client, stream)
    rid = f"rt-{client}-{'stream' if stream else 'plain'}:1.a_b"

    answer = await engine.client.post(
        path, json=body, headers={"x-request-id": rid, "traceparent": PARENT} | GOOGLE
    )

    assert answer.status_code == 200, answer.text
    assert answer.headers["x-request-id"] == rid
    [sent] = await engine.upstream_requests()
    assert sent["headers"]["x-request-id"] == rid
    assert sent["headers"]["traceparent"] == PARENT
    [event] = await _finished(engine)
    assert (event["request_id"], event["trace_id"]) == (rid, PARENT[3:35])
    [line] = _call_lines(caplog)
    assert line["request_id"] == rid
    assert line["stream"] is stream
    assert line["client_protocol"] == client
    assert set(FIELDS) <= line.keys()


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_without_an_id_the_call_id_is_the_request_id(
    engine: EngineHarness, caplog: pytest.LogCaptureFixture, stream: bool
) -> None:
    caplog.set_level(logging.INFO, logger="junction.engine.calls")
    path, body = _call("openai", stream)

    answer = await engine.client.post(path, json=body)

    rid = answer.headers["x-request-id"]
    assert len(rid) == 32
    assert int(rid, 16) >= 0
    [sent] = await engine.upstream_requests()
    assert sent["headers"]["x-request-id"] == rid
    assert "traceparent" not in sent["headers"]
    [event] = await _finished(engine)
    assert event["request_id"] == event["call_id"] == rid
    assert event["trace_id"] is None
    [line] = _call_lines(caplog)
    assert line["request_id"] == line["call_id"] == rid


async def test_an_invalid_id_is_replaced_everywhere(engine: EngineHarness) -> None:
    path, body = _call("openai", False)

    answer = await engine.client.post(path, json=body, headers={"x-request-id": "not valid!"})

    rid = answer.headers["x-request-id"]
    assert rid != "not valid!"
    [sent] = await engine.upstream_requests()
    assert sent["headers"]["x-request-id"] == rid
    [event] = await _finished(engine)
    assert event["request_id"] == rid


async def test_a_failed_call_carries_its_id_on_every_attempt_and_its_error(
    engine: EngineHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="junction.engine.calls")

    answer = await engine.client.post(
        "/v1/chat/completions",
        json={"model": "broken", "messages": HELLO},
        headers={"x-request-id": "failing-1"},
    )

    assert answer.status_code == 502
    assert answer.headers["x-request-id"] == "failing-1"
    attempts = await engine.upstream_requests()
    assert len(attempts) == 2
    assert {a["headers"]["x-request-id"] for a in attempts} == {"failing-1"}
    [event] = await _finished(engine)
    assert (event["request_id"], event["status"], event["attempts"]) == ("failing-1", "failed", 2)
    [line] = _call_lines(caplog)
    assert (line["request_id"], line["status"], line["http_status"]) == ("failing-1", "failed", 502)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/v1/chat/completions", 401),  # refused before any call: a bad key
        ("POST", "/v1/messages", 401),
        ("POST", "/v1beta/models/gem:generateContent", 401),
        ("GET", "/v1/nowhere", 404),
        ("GET", "/healthz", 200),
        ("GET", "/v1/models", 401),
    ],
)
async def test_every_answer_carries_the_request_id(
    engine: EngineHarness, method: str, path: str, status: int
) -> None:
    answer = await engine.client.request(
        method,
        path,
        json={} if method == "POST" else None,
        headers={"authorization": "Bearer jk-wrong", "x-request-id": "every-1"},
    )

    assert answer.status_code == status
    assert answer.headers.get_list("x-request-id") == ["every-1"]


async def test_a_bad_body_is_refused_with_the_request_id(engine: EngineHarness) -> None:
    answer = await engine.client.post(
        "/v1/chat/completions", content=b"{not json", headers={"x-request-id": "bad-body"}
    )

    assert answer.status_code == 400
    assert answer.headers["x-request-id"] == "bad-body"


async def test_a_tracestate_goes_upstream_with_its_traceparent(engine: EngineHarness) -> None:
    path, body = _call("anthropic", False)

    await engine.client.post(
        path, json=body, headers={"traceparent": PARENT, "tracestate": "rojo=00f067aa0ba902b7"}
    )

    [sent] = await engine.upstream_requests()
    assert sent["headers"]["tracestate"] == "rojo=00f067aa0ba902b7"


async def test_an_invalid_traceparent_is_not_passed_on(engine: EngineHarness) -> None:
    path, body = _call("openai", True)

    await engine.client.post(
        path, json=body, headers={"traceparent": "00-nonsense", "tracestate": "a=1"}
    )

    [sent] = await engine.upstream_requests()
    assert "traceparent" not in sent["headers"]
    assert "tracestate" not in sent["headers"]
    [event] = await _finished(engine)
    assert event["trace_id"] is None


@pytest.mark.parametrize("client", ["openai", "anthropic", "gemini"])
async def test_no_log_line_holds_a_key_or_the_prompt(
    engine: EngineHarness, caplog: pytest.LogCaptureFixture, client: str
) -> None:
    caplog.set_level(logging.DEBUG)
    path, body = _call(client, True)

    await engine.client.post(path, json=body, headers=GOOGLE)
    await engine.client.post(path, json=body, headers={"authorization": "Bearer jk-wrong"})
    await _finished(engine)

    formatter = JsonFormatter()
    lines = [formatter.format(r) for r in caplog.records]
    assert any('"junction.engine.calls"' in line for line in lines)
    for line in lines:
        for canary in (KEY, MOCK_KEY, "jk-wrong", CANARY_PROMPT):
            assert canary not in line


async def test_the_call_line_names_the_key_by_its_prefix(
    engine: EngineHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="junction.engine.calls")
    path, body = _call("openai", False)

    await engine.client.post(path, json=body)

    [line] = _call_lines(caplog)
    # the route's prefix for the key (tests.support.routes), never the key itself
    assert line["token_prefix"] == "jk-test"
    assert line["tenant_id"]
    assert line["model"] == "gpt"
    assert line["deployment_id"] == "dep-mock-gpt-0"
    assert line["input_tokens"] > 0
    assert line["output_tokens"] > 0
    assert line["attempts"] == 1
    assert line["latency_ms"] >= 0


async def test_call_lines_can_be_switched_off() -> None:
    async with build_engine(call_log=False) as e:
        logger = logging.getLogger("junction.engine.calls")
        seen: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = seen.append  # type: ignore[method-assign]
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        try:
            path, body = _call("openai", False)
            answer = await e.client.post(path, json=body)
        finally:
            logger.removeHandler(handler)
            logger.setLevel(logging.NOTSET)
    assert answer.status_code == 200
    assert seen == []
