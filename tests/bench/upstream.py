"""A fake provider fast enough never to be what a benchmark measures.

A raw `asyncio.Protocol` HTTP/1.1 keep-alive server (on uvloop when it is
importable) that replays canned answers (see `canned`) and parses no JSON:

- the path picks the protocol: ``/v1/messages`` answers as Anthropic, any
  other POST as OpenAI chat completions; ``GET /health`` answers ``ok``;
- ``"stream":true`` (or ``"stream": true``) in the body picks a stream, sent
  as chunked transfer encoding with one write per SSE event;
- ``slow-stream`` anywhere in the body picks the paced stream: one event
  every `slow_interval` seconds (the slow-streams cell).

Run as its own process: ``python -m tests.bench.upstream --port P [--chunks N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from tests.bench import canned

_JSON_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
_SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
    b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
)
_HEALTH = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok"
_BAD = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
_LAST_CHUNK = b"0\r\n\r\n"
_STREAM_MARKERS = (b'"stream":true', b'"stream": true')
_SLOW_MARKER = b"slow-stream"


def _chunked(events: tuple[bytes, ...]) -> tuple[bytes, ...]:
    """Each event framed as one chunk; the head rides with the first, the end with the last."""
    framed = [b"%x\r\n%s\r\n" % (len(event), event) for event in events]
    framed[0] = _SSE_HEAD + framed[0]
    framed[-1] += _LAST_CHUNK
    return tuple(framed)


@dataclass(frozen=True, slots=True)
class Answers:
    """Every answer ready to write: JSON responses whole, streams as per-event writes."""

    openai_json: bytes
    openai_stream: tuple[bytes, ...]
    anthropic_json: bytes
    anthropic_stream: tuple[bytes, ...]
    slow_stream: tuple[bytes, ...]
    slow_interval: float

    @classmethod
    def from_canned(cls, made: canned.Canned, slow_interval: float) -> Answers:
        """Frame the canned bodies as HTTP/1.1 responses."""
        return cls(
            openai_json=_JSON_HEAD % len(made.openai_json) + made.openai_json,
            openai_stream=_chunked(made.openai_events),
            anthropic_json=_JSON_HEAD % len(made.anthropic_json) + made.anthropic_json,
            anthropic_stream=_chunked(made.anthropic_events),
            slow_stream=_chunked(made.slow_events),
            slow_interval=slow_interval,
        )

    def pick(self, head: bytes, body: bytes) -> bytes | tuple[bytes, ...]:
        """The answer to one request: whole bytes, or a stream's writes."""
        if head.startswith(b"GET /health"):
            return _HEALTH
        if _SLOW_MARKER in body:
            return self.slow_stream
        stream = any(marker in body for marker in _STREAM_MARKERS)
        if b" /v1/messages" in head[: head.find(b"\r\n")]:
            return self.anthropic_stream if stream else self.anthropic_json
        return self.openai_stream if stream else self.openai_json


def _content_length(head: bytes) -> int | None:
    lowered = head.lower()
    at = lowered.find(b"\r\ncontent-length:")
    if at < 0:
        # a request without a body (GET) or with a chunked one (not supported)
        return None if b"\r\ntransfer-encoding:" in lowered else 0
    end = lowered.find(b"\r\n", at + 2)
    return int(lowered[at + 17 : end if end >= 0 else None])


class UpstreamProtocol(asyncio.Protocol):
    """One client connection: requests answered in order, keep-alive until the peer closes."""

    def __init__(self, answers: Answers) -> None:
        self._answers = answers
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._busy = False  # a paced stream is still being sent

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self._transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._timer is not None:
            self._timer.cancel()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._busy:
            self._serve()

    def _serve(self) -> None:
        transport = self._transport
        while transport is not None and not self._busy:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._buffer[:end])
            length = _content_length(head)
            if length is None:
                transport.write(_BAD)
                transport.close()
                return
            total = end + 4 + length
            if len(self._buffer) < total:
                return
            body = bytes(self._buffer[end + 4 : total])
            del self._buffer[:total]
            answer = self._answers.pick(head, body)
            if isinstance(answer, bytes):
                transport.write(answer)
            elif answer is self._answers.slow_stream:
                self._pace(answer)
            else:
                for write in answer:
                    transport.write(write)

    def _pace(self, writes: tuple[bytes, ...]) -> None:
        """Send `writes` one per interval on an absolute schedule (no drift), then go on."""
        loop = asyncio.get_running_loop()
        start, interval = loop.time(), self._answers.slow_interval
        self._busy = True

        def step(index: int) -> None:
            if self._transport is None:
                return
            self._transport.write(writes[index])
            if index + 1 < len(writes):
                self._timer = loop.call_at(start + (index + 1) * interval, step, index + 1)
            else:
                self._timer, self._busy = None, False
                self._serve()

        step(0)


async def serve(answers: Answers, port: int, host: str = "127.0.0.1") -> None:
    """Serve `answers` on `host:port` until cancelled."""
    loop = asyncio.get_running_loop()
    factory: Callable[[], asyncio.Protocol] = lambda: UpstreamProtocol(answers)  # noqa: E731
    server = await loop.create_server(factory, host, port, backlog=4096, reuse_address=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    """Build the canned answers, then serve them until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.upstream", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--chunks", type=int, default=50, help="content chunks per stream")
    parser.add_argument("--slow-events", type=int, default=101, help="events of a slow stream")
    parser.add_argument("--slow-interval-ms", type=float, default=100.0)
    args = parser.parse_args(argv)
    made = canned.build(args.chunks, args.slow_events)
    answers = Answers.from_canned(made, args.slow_interval_ms / 1000)
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(answers, args.port))
    else:
        uvloop.run(serve(answers, args.port))


if __name__ == "__main__":
    main()
