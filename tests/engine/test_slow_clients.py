"""Slow and greedy clients against a real engine socket (uvloop, the engine's own protocol).

Each deadline is set small here (1 s) so the tests are quick; what they pin
is who gets cut and what is recorded, never how fast.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from junction_engine.app import create_app
from junction_engine.client_keys import hash_key
from junction_engine.settings import EngineSettings
from junction_mockllm.app import create_app as create_mock_app
from tests.engine.conftest import KEY, MOCK_KEY
from tests.support.routes import LOOPBACK, SECRET, FakeControl, deployment, model_route, route
from tests.support.served import served
from tests.support.served_engine import served_engine, server_errors

HELLO = [{"role": "user", "content": "hi"}]


def settings_for(**overrides: Any) -> EngineSettings:
    base = EngineSettings(
        internal_secret=SECRET,
        control_url="http://control",
        egress=LOOPBACK,
        telemetry_flush_seconds=0.05,
    )
    return replace(base, **overrides)


def control_for(mock_url: str, upstream_model: str = "mock-gpt") -> FakeControl:
    model = model_route(
        name="m", deployments=(deployment(upstream_model, key=MOCK_KEY, base_url=f"{mock_url}/v1"),)
    )
    return FakeControl({hash_key(KEY): route(model)})


def raw_request(path: str, body: bytes, *, length: int | None = None) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nhost: engine\r\nauthorization: Bearer {KEY}\r\n"
        f"content-type: application/json\r\ncontent-length: {length or len(body)}\r\n\r\n"
    )
    return head.encode() + body


def read_answer(sock: socket.socket, wait: float = 15.0) -> tuple[int, dict[str, str], bytes]:
    """The status, headers and body of the answer on `sock` (its length read as HTTP says)."""
    sock.settimeout(wait)
    answer = http.client.HTTPResponse(sock)
    answer.begin()
    return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()


def closed_by_server(sock: socket.socket, wait: float) -> bool:
    """Whether the server closes `sock` within `wait` seconds (what it sent is read and dropped)."""
    sock.settimeout(wait)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def tcp_state(sock: socket.socket) -> int:
    """The kernel's TCP state of `sock` (Linux: 1 established, 7 closed, 8 close-wait)."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]


def trickle(sock: socket.socket, data: bytes, every: float) -> int:
    """Send `data` one byte per `every` seconds until the server hangs up; the bytes sent."""
    for sent, byte in enumerate(data, start=1):
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return sent - 1
        if closed_by_server(sock, every):
            return sent
    return len(data)


@pytest.fixture
def server_logs() -> Iterator[list[logging.LogRecord]]:
    with server_errors() as records:
        yield records


def test_a_slowloris_head_is_cut_within_the_header_timeout_while_others_are_served() -> None:
    with served(create_mock_app()) as mock_url:
        control = control_for(mock_url)
        settings = settings_for(header_timeout_seconds=1.0)
        app = create_app(settings, control_transport=control.transport())
        with served_engine(app, settings) as (url, port):
            head = raw_request("/v1/chat/completions", b"{}")
            with socket.create_connection(("127.0.0.1", port)) as slow:
                slow.sendall(head[:1])
                # the engine serves everyone else meanwhile
                ok = httpx.post(
                    f"{url}/v1/chat/completions",
                    headers={"authorization": f"Bearer {KEY}"},
                    json={"model": "m", "messages": HELLO},
                )
                assert ok.status_code == 200
                # one byte per 2 s: the head would take minutes; the engine hangs up first
                sent = trickle(slow, head[1:], every=2.0)
            assert sent < len(head) - 1
            with socket.create_connection(("127.0.0.1", port)) as silent:
                assert closed_by_server(silent, wait=10.0)  # connected, never sent a byte
            assert httpx.get(f"{url}/healthz").status_code == 200


def test_each_request_on_a_kept_alive_connection_has_its_own_head_deadline() -> None:
    with served(create_mock_app()) as mock_url:
        control = control_for(mock_url)
        settings = settings_for(header_timeout_seconds=1.0)
        app = create_app(settings, control_transport=control.transport())
        with (
            served_engine(app, settings) as (_, port),
            socket.create_connection(("127.0.0.1", port)) as sock,
        ):
            body = json.dumps({"model": "m", "messages": HELLO}).encode()
            for _ in range(2):  # well-behaved requests, one after another, on one connection
                sock.sendall(raw_request("/v1/chat/completions", body))
                answer = b""
                sock.settimeout(10)
                while b"Hello from" not in answer:
                    chunk = sock.recv(65536)
                    assert chunk, "the engine closed a kept-alive connection"
                    answer += chunk
                assert answer.startswith(b"HTTP/1.1 200")
                time.sleep(1.5)  # idle between requests: keep-alive's business, not the head's
            sent = trickle(sock, raw_request("/v1/chat/completions", body), every=2.0)
        assert sent < len(raw_request("/v1/chat/completions", body))


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        ("/v1/chat/completions", "openai"),
        ("/v1/messages", "anthropic"),
        ("/v1beta/models/m:generateContent", "gemini"),
    ],
)
def test_a_body_that_stops_midway_is_answered_408_in_the_callers_protocol(
    path: str, shape: str, server_logs: list[logging.LogRecord]
) -> None:
    with served(create_mock_app()) as mock_url:
        control = control_for(mock_url)
        settings = settings_for(body_timeout_seconds=1.0)
        app = create_app(settings, control_transport=control.transport())
        with (
            served_engine(app, settings) as (url, port),
            socket.create_connection(("127.0.0.1", port)) as sock,
        ):
            sock.sendall(raw_request(path, b'{"model": "m", ', length=5000))
            status, headers, body = read_answer(sock)
            assert closed_by_server(sock, wait=10.0)  # and then hangs up
            metrics = httpx.get(f"{url}/metrics").text
    assert status == 408
    assert headers["connection"] == "close"
    error = json.loads(body)
    if shape == "openai":
        assert error["error"]["code"] == "body_timeout"
        assert error["error"]["type"] == "timeout_error"
    elif shape == "anthropic":
        assert error["type"] == "error"
        assert error["error"]["type"] == "timeout_error"
    else:
        assert error["error"]["status"] == "DEADLINE_EXCEEDED"
    assert 'junction_engine_refusals_total{code="body_timeout"} 1.0' in metrics
    assert server_logs == []  # a slow client is not a server error
    assert control.events == []  # no call was made: nothing to bill


class Watched:
    """The mock, noting whether a provider call ended its answer or saw the engine hang up.

    Each chunk sent yields to the loop, so the mock's disconnect watcher runs
    as soon as the engine hangs up (a send to a closed connection returns at
    once: without the yield the mock would run its whole stream into nothing).
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.hung_up = threading.Event()
        self.completed = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return

        async def watched_receive() -> Message:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.hung_up.set()
            return message

        async def watched_send(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.completed.set()
            await send(message)
            await asyncio.sleep(0)

        await self.app(scope, watched_receive, watched_send)


def test_a_stream_client_that_stops_reading_is_cut_and_its_upstream_cancelled(
    server_logs: list[logging.LogRecord],
) -> None:
    mock = Watched(create_mock_app())
    with served(mock) as mock_url:
        # ~27 MB of events: far more than every socket buffer on the way
        control = control_for(mock_url, "mock-gpt+tokens=100000")
        settings = settings_for(write_idle_timeout_seconds=1.0)
        app = create_app(settings, control_transport=control.transport())
        with served_engine(app, settings) as (url, port):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window
            sock.connect(("127.0.0.1", port))
            with sock:
                body = {"model": "m", "stream": True, "messages": HELLO}
                sock.sendall(raw_request("/v1/chat/completions", json.dumps(body).encode()))
                sock.settimeout(10)
                assert sock.recv(1024).startswith(b"HTTP/1.1 200")
                # ... and from here on the client reads nothing
                assert mock.hung_up.wait(30), "the provider's stream was never cancelled"
                deadline = time.monotonic() + 10
                while not [e for e in control.events if e["kind"] == "finished"]:
                    assert time.monotonic() < deadline, "the call was never recorded"
                    time.sleep(0.05)
                # the engine reset the connection: the client learns it without reading
                while tcp_state(sock) == 1:
                    assert time.monotonic() < deadline, "the connection is still open"
                    time.sleep(0.05)
                rest = b""
                try:
                    while chunk := sock.recv(65536):
                        rest += chunk
                except ConnectionResetError:
                    pass
            assert httpx.get(f"{url}/healthz").status_code == 200
    assert not mock.completed.is_set()
    assert b"data: [DONE]" not in rest
    [event] = [e for e in control.events if e["kind"] == "finished"]
    assert event["status"] == "cancelled"
    assert event["error_code"] == "client_stalled"
    assert server_logs == []


def test_a_slow_reader_that_keeps_reading_gets_its_whole_stream() -> None:
    with served(create_mock_app()) as mock_url:
        control = control_for(mock_url, "mock-gpt+tokens=20000")
        settings = settings_for(write_idle_timeout_seconds=1.0)
        app = create_app(settings, control_transport=control.transport())
        with (
            served_engine(app, settings) as (url, _),
            httpx.Client(base_url=url, timeout=30) as client,
            client.stream(
                "POST",
                "/v1/chat/completions",
                headers={"authorization": f"Bearer {KEY}"},
                json={"model": "m", "stream": True, "messages": HELLO},
            ) as resp,
        ):
            got = b""
            for chunk in resp.iter_raw(65536):
                got += chunk
                time.sleep(0.002)  # slower than the engine writes, never stalled for long
    assert got.rstrip().endswith(b"data: [DONE]")


def test_a_client_that_never_reads_a_whole_answer_is_dropped_once_it_is_written() -> None:
    """Not a stream: the answer is written in one go, then sits in a full socket buffer;
    closing politely would wait for the client forever, so the connection is reset."""
    big = b"x" * (24 * 1024 * 1024)

    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = [(b"content-length", str(len(big)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": big})

    settings = settings_for(write_idle_timeout_seconds=1.0)
    with served_engine(answer, settings) as (_, port):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        with sock:
            sock.sendall(b"GET /big HTTP/1.1\r\nhost: engine\r\n\r\n")
            deadline = time.monotonic() + 15
            while tcp_state(sock) == 1:  # established, and nobody reads
                assert time.monotonic() < deadline, "the engine kept a client that never reads"
                time.sleep(0.1)
            got = 0
            try:
                while chunk := sock.recv(1 << 20):
                    got += len(chunk)
            except ConnectionResetError:
                pass
    assert got < len(big)
