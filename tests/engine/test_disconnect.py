"""A client that goes away mid-stream cancels the upstream call and is recorded as cancelled."""

from __future__ import annotations

import time
from dataclasses import replace

import httpx

from junction_contracts import ModelRoute
from junction_engine.app import create_app
from junction_engine.client_keys import hash_key
from junction_engine.settings import EngineSettings
from junction_mockllm.app import create_app as create_mock_app
from tests.engine.conftest import KEY, MOCK_KEY
from tests.support.routes import SECRET, FakeControl, deployment, route
from tests.support.served import served


def test_client_disconnect_cancels_upstream_and_records_cancelled() -> None:
    mock = create_mock_app()
    with served(mock) as mock_url:
        slow = ModelRoute(
            name="slow",
            deployments=(
                deployment(
                    "mock-gpt+tokens=400+chunk_delay=20", key=MOCK_KEY, base_url=f"{mock_url}/v1"
                ),
            ),
        )
        control = FakeControl({hash_key(KEY): route(slow)})
        settings = replace(
            EngineSettings(internal_secret=SECRET, control_url="http://control"),
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
            assert engine.forwarder._board.inflight == {}
        [event] = finished
        assert event["status"] == "cancelled"
        assert event["error_code"] == "client_disconnected"
        # the upstream request was closed long before the 400 words x 20 ms it would take
        assert event["latency_ms"] < 5000
