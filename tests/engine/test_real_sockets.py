"""Behaviour that needs real sockets: disconnects and time budgets, with uvicorn serving."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest

from junction_engine.app import create_app
from junction_engine.client_keys import hash_key
from junction_engine.settings import EngineSettings
from junction_mockllm.app import create_app as create_mock_app
from tests.engine.conftest import KEY, MOCK_KEY
from tests.support.routes import LOOPBACK, SECRET, FakeControl, deployment, model_route, route
from tests.support.served import served
from tests.support.served_engine import served_engine


@contextmanager
def _serve(app: Any, settings: EngineSettings, server: str) -> Iterator[str]:
    if server == "uvicorn":
        with served(app) as url:
            yield url
    else:
        with served_engine(app, settings) as (url, _):
            yield url


def test_client_disconnect_cancels_upstream_and_records_cancelled() -> None:
    mock = create_mock_app()
    with served(mock) as mock_url:
        slow = model_route(
            name="slow",
            deployments=(
                deployment(
                    "mock-gpt+tokens=400+chunk_delay=20", key=MOCK_KEY, base_url=f"{mock_url}/v1"
                ),
            ),
        )
        control = FakeControl({hash_key(KEY): route(slow)})
        settings = replace(
            EngineSettings(internal_secret=SECRET, control_url="http://control", egress=LOOPBACK),
            telemetry_flush_seconds=0.05,
        )
        app = create_app(settings, control_transport=control.transport())
        with served(app) as engine_url, httpx.Client(base_url=engine_url) as client:
            with client.stream(
                "POST",
                "/v1/chat/completions",
                headers={"authorization": f"Bearer {KEY}"},
                json={
                    "model": "slow",
                    "stream": True,
                    "messages": [{"role": "user", "content": "go"}],
                },
            ) as resp:
                assert resp.status_code == 200
                lines = resp.iter_lines()
                got = [next(lines) for _ in range(4)]
                assert any(line.startswith("data: ") for line in got)
            started = time.monotonic()
            while time.monotonic() - started < 5:
                finished = [e for e in control.events if e["kind"] == "finished"]
                if finished:
                    break
                time.sleep(0.05)
            engine = app.state.engine
            assert engine.forwarder.board.inflight == {}
        [event] = finished
        assert event["status"] == "cancelled"
        assert event["error_code"] == "client_disconnected"
        # the upstream request was closed long before the 400 words x 20 ms it would take
        assert event["latency_ms"] < 5000
        # billed for the text it got, from an estimate: the provider's usage never came
        assert event["partial"] is True
        assert event["usage_estimated"] is True
        assert 0 < event["output_tokens"] < 400
        assert event["input_tokens"] > 0


@pytest.mark.parametrize("server", ["uvicorn", "engine-protocol"])
def test_client_gone_before_the_first_byte_stops_failover_and_bills_the_input(
    server: str,
) -> None:
    # the provider was already at work on the prompt: its input is billed, estimated;
    # uvicorn's own protocol is watched by a task, the engine's says when it loses its client
    mock = create_mock_app()
    with served(mock) as mock_url:
        slow = model_route(
            name="slow",
            deployments=(
                deployment("mock-gpt+fault=timeout", key=MOCK_KEY, base_url=f"{mock_url}/v1"),
                deployment("mock-backup", key=MOCK_KEY, base_url=f"{mock_url}/v1", priority=1),
            ),
        )
        control = FakeControl({hash_key(KEY): route(slow)})
        settings = replace(
            EngineSettings(internal_secret=SECRET, control_url="http://control", egress=LOOPBACK),
            first_byte_timeout=1.0,
            telemetry_flush_seconds=0.05,
        )
        app = create_app(settings, control_transport=control.transport())
        with _serve(app, settings, server) as engine_url:
            with pytest.raises(httpx.ReadTimeout):
                httpx.post(
                    f"{engine_url}/v1/chat/completions",
                    headers={"authorization": f"Bearer {KEY}"},
                    json={"model": "slow", "messages": [{"role": "user", "content": "x"}]},
                    timeout=0.3,
                )
            time.sleep(1.5)  # past the first deployment's first-byte timeout
            finished = [e for e in control.events if e["kind"] == "finished"]
            sent = httpx.get(f"{mock_url}/_mock/requests").json()["requests"]
        assert [json.loads(r["body"])["model"] for r in sent] == ["mock-gpt+fault=timeout"]
        [event] = finished
        assert event["status"] == "cancelled"
        assert event["partial"] is True
        assert event["usage_estimated"] is True
        assert event["input_tokens"] > 0
        assert event["output_tokens"] == 0
        # the one attempt made ended with the client, before the provider answered
        [note] = event["attempt_log"]
        assert (note["outcome"], note["http_status"]) == ("cancelled", None)
        assert note["error_code"] == "client_disconnected"


def test_a_streamed_failover_gets_a_fresh_first_byte_budget() -> None:
    mock = create_mock_app()
    with served(mock) as mock_url:
        model = model_route(
            name="m",
            deployments=(
                deployment("mock-gpt+fault=timeout", key=MOCK_KEY, base_url=f"{mock_url}/v1"),
                deployment(
                    "mock-fast+ttfb=200", key=MOCK_KEY, base_url=f"{mock_url}/v1", priority=1
                ),
            ),
        )
        control = FakeControl({hash_key(KEY): route(model)})
        settings = replace(
            EngineSettings(internal_secret=SECRET, control_url="http://control", egress=LOOPBACK),
            first_byte_timeout=1.0,
        )
        app = create_app(settings, control_transport=control.transport())
        with served(app) as engine_url:
            resp = httpx.post(
                f"{engine_url}/v1/chat/completions",
                headers={"authorization": f"Bearer {KEY}"},
                json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]},
                timeout=10,
            )
    assert resp.status_code == 200
    assert "mock-fast!" in resp.text  # the reply streams one word per event
    assert resp.text.rstrip().endswith("data: [DONE]")
