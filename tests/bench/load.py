"""The load generator: N concurrent workers in one event loop, bounded in count and time.

Each worker owns one keep-alive HTTP/1.1 connection and speaks the protocol
itself over asyncio streams: the request bytes are built once, the answer is
read raw (Content-Length or chunked) and never parsed. On a small machine the
client shares the CPUs with every process it measures, and a general client
(httpx) spends several times more per request than this, which would blur the
differences between targets. Each request is timed from just before it is
sent to the first body bytes (time to first byte) and to the last (total); an
answer counts as an error unless its status is 200 and its body holds the
expected marker.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

REQUEST_TIMEOUT = 10.0  # seconds; loopback answers take milliseconds


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP POST, ready to send as often as needed."""

    url: str
    headers: dict[str, str]
    body: bytes
    expect: bytes  # found in the body of every good answer

    def wire(self) -> tuple[str, int, bytes]:
        """Host, port and the request's bytes on the wire."""
        parts = urlsplit(self.url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        lines = [f"POST {parts.path} HTTP/1.1", f"host: {host}:{port}"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        lines.append(f"content-length: {len(self.body)}")
        return host, port, ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass(slots=True)
class Samples:
    """What one cell measured: seconds per good request, wall time, failures."""

    ttfb: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    wall: float = 0.0

    @property
    def count(self) -> int:
        """Good requests."""
        return len(self.total)

    def add(self, other: Samples) -> None:
        """Fold another round of the same cell into this one."""
        self.ttfb += other.ttfb
        self.total += other.total
        self.errors += other.errors
        self.first_error = self.first_error or other.first_error
        self.wall += other.wall

    def fail(self, reason: str) -> None:
        """Count a failed request, keeping the first reason."""
        self.errors += 1
        self.first_error = self.first_error or reason


class _Connection:
    """One keep-alive connection; reopened after any failure."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def exchange(self, request: bytes) -> tuple[int, float, bytes]:
        """Send `request`; the status, when the first body bytes came, and the body."""
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        writer.write(request)
        head = (await reader.readuntil(b"\r\n\r\n")).lower()
        status = int(head[9:12])
        if b"transfer-encoding: chunked" in head:
            first, body = await _read_chunked(reader)
        else:
            length = int(head.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
            body = await reader.readexactly(length)
            first = time.perf_counter()
        if b"connection: close" in head:
            self.close()
        return status, first, body

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def _read_chunked(reader: asyncio.StreamReader) -> tuple[float, bytes]:
    first = 0.0
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers are expected
            return first or time.perf_counter(), b"".join(parts)
        parts.append((await reader.readexactly(size + 2))[:-2])
        first = first or time.perf_counter()


async def _drive(
    conns: list[_Connection],
    request: bytes,
    expect: bytes,
    samples: Samples,
    count: int,
    limit: float,
) -> None:
    deadline = time.perf_counter() + limit
    left = count

    async def worker(conn: _Connection) -> None:
        nonlocal left
        while left > 0 and time.perf_counter() < deadline:
            left -= 1
            start = time.perf_counter()
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT):
                    status, first, body = await conn.exchange(request)
            except TimeoutError:  # before OSError, its base class
                conn.close()
                samples.fail(f"no answer within {REQUEST_TIMEOUT} s")
                continue
            except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
                conn.close()
                samples.fail(f"{type(exc).__name__}: {exc}")
                continue
            end = time.perf_counter()
            if status != 200 or expect not in body:
                samples.fail(f"status {status}: {body[:160]!r}")
                continue
            samples.ttfb.append(first - start)
            samples.total.append(end - start)

    await asyncio.gather(*(worker(c) for c in conns))


async def run_cell(
    call: Call, *, concurrency: int, count: int, warmup: int, time_limit: float
) -> Samples:
    """Send `warmup` unmeasured requests, then `count` measured ones, `concurrency` at a time.

    Warm-up and measurement each stop early once `time_limit` seconds have
    passed, so a slow target shortens its own sample instead of the whole run.
    """
    host, port, request = call.wire()
    # the warm-up opens every connection the measured requests then reuse
    conns = [_Connection(host, port) for _ in range(concurrency)]
    try:
        await _drive(conns, request, call.expect, Samples(), max(warmup, concurrency), time_limit)
        samples = Samples()
        start = time.perf_counter()
        await _drive(conns, request, call.expect, samples, count, time_limit)
        samples.wall = time.perf_counter() - start
    finally:
        for conn in conns:
            conn.close()
    return samples
