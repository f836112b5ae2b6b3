"""Slow clients at the public entry: the repository's Caddyfile, run by real Caddy.

Caddy's client timeouts come from the same environment variables an
operator sets (here 1 s for the head and 3 s for the whole request), in
front of a real engine socket and the mock LLM. The engine's own body
timeout (1 s here) runs out before Caddy's, as the defaults have it.
"""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from junction_engine.app import create_app
from junction_mockllm.app import create_app as create_mock_app
from tests.conftest import unavailable
from tests.engine.conftest import KEY
from tests.engine.test_slow_clients import (
    HELLO,
    closed_by_server,
    control_for,
    raw_request,
    read_answer,
    settings_for,
    trickle,
)
from tests.support.routes import FakeControl
from tests.support.served import served
from tests.support.served_engine import served_engine, server_errors
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

CADDY_TIMEOUTS = {
    "JUNCTION_CADDY_READ_HEADER_TIMEOUT": "1s",
    "JUNCTION_CADDY_READ_BODY_TIMEOUT": "3s",
}


@dataclass
class Entry:
    url: str
    port: int
    control: FakeControl


@pytest.fixture(scope="module")
def entry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Entry]:
    if shutil.which("caddy") is None:
        unavailable("caddy")
    workdir: Path = tmp_path_factory.mktemp("caddy-slow-clients")
    with served(create_mock_app()) as mock_url:
        control = control_for(mock_url, "mock-gpt+tokens=50+chunk_delay=100")
        settings = settings_for(body_timeout_seconds=1.0)
        app = create_app(settings, control_transport=control.transport())
        with served_engine(app, settings) as (_, engine_port):
            stack = Stack(workdir=workdir)
            stack.engine_ports.append(engine_port)
            try:
                stack.start_caddy(extra_env=CADDY_TIMEOUTS)
                yield Entry(stack.public_url, stack.public_port, control)
            except Exception:
                print(stack.logs())
                raise
            finally:
                stack.stop()


def test_a_slowloris_head_is_cut_by_caddy_while_others_are_served(entry: Entry) -> None:
    head = raw_request("/v1/chat/completions", b"{}")
    with socket.create_connection(("127.0.0.1", entry.port)) as slow:
        slow.sendall(head[:1])
        ok = httpx.post(
            f"{entry.url}/v1/chat/completions",
            headers={"authorization": f"Bearer {KEY}"},
            json={"model": "m", "messages": HELLO},
            timeout=30,
        )
        assert ok.status_code == 200
        sent = trickle(slow, head[1:], every=2.0)  # one byte per 2 s
    assert sent < len(head) - 1
    with socket.create_connection(("127.0.0.1", entry.port)) as silent:
        assert closed_by_server(silent, wait=10.0)


def test_a_body_that_stops_midway_gets_the_engines_408_and_the_engine_stays_in(
    entry: Entry,
) -> None:
    """The engine's body timeout runs out before Caddy's: the client hears why, in its
    protocol, and Caddy does not count a client's stall as a failure of the engine."""
    with (
        server_errors() as errors,
        socket.create_connection(("127.0.0.1", entry.port)) as sock,
    ):
        sock.sendall(raw_request("/v1/messages", b'{"model": "m", ', length=5000))
        status, _, body = read_answer(sock)
    assert status == 408
    assert json.loads(body)["error"]["type"] == "timeout_error"  # Anthropic's shape
    after = httpx.post(
        f"{entry.url}/v1/chat/completions",
        headers={"authorization": f"Bearer {KEY}"},
        json={"model": "m", "messages": HELLO},
        timeout=30,
    )
    assert after.status_code == 200  # the replica is still in rotation
    assert errors == []
    # no call was made for the stalled request: every call recorded was served
    finished = [e for e in entry.control.events if e["kind"] == "finished"]
    assert all(e["status"] == "success" for e in finished)


def test_a_body_stalled_past_caddys_own_limit_is_cut_by_caddy(entry: Entry) -> None:
    """Caddy's limit is the backstop for a route with no timeout of its own (the admin API
    is down here: Caddy waits for the body before it even tries)."""
    with socket.create_connection(("127.0.0.1", entry.port)) as sock:
        head = (
            "POST /api/v1/tenants HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            "content-length: 5000\r\n\r\n{"
        )
        sock.sendall(head.encode())
        assert closed_by_server(sock, wait=15.0)


def test_a_stream_outlasting_every_caddy_timeout_arrives_whole(entry: Entry) -> None:
    """50 events 100 ms apart: longer than the head and body timeouts put together."""
    with (
        httpx.Client(timeout=30) as client,
        client.stream(
            "POST",
            f"{entry.url}/v1/chat/completions",
            headers={"authorization": f"Bearer {KEY}"},
            json={"model": "m", "stream": True, "messages": HELLO},
        ) as resp,
    ):
        events = [line for line in resp.iter_lines() if line.startswith("data: ")]
    assert resp.status_code == 200
    assert events[-1] == "data: [DONE]"
    words = [json.loads(e[6:]) for e in events[:-1]]
    assert len(words) >= 50
