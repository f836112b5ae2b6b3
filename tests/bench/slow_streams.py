"""The slow-streams cell: many concurrent streams, each paced by the upstream.

The fake upstream sends one event every 100 ms for 10 s; the server under
test must relay all of them at once. wrk reports no time to first byte, so
this cell has its own client: one asyncio protocol per stream over a raw
connection (no stream reader in between), run in a child process pinned to
the driver core. It times each
stream from the request's send to its first response byte and to its end,
and counts a stream good only if it ends with the chunked terminator after
the ``[DONE]`` event.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit

from tests.bench import logs, procstat
from tests.bench.cells import Target
from tests.bench.cores import DRIVER_CORE, pinned
from tests.bench.wrk import Call

STREAM_TIMEOUT = 30.0
_END = b"0\r\n\r\n"


@dataclass(frozen=True, slots=True)
class Slow:
    """What one target did with the slow streams (seconds, MB)."""

    target: str
    streams: int
    completed: int
    first_error: str
    first_byte_p50: float
    first_byte_p99: float
    first_byte_max: float
    late: int  # streams whose first byte took over a second
    duration_p50: float
    duration_max: float
    wall: float
    rss_mb: float
    cpu_seconds: float
    log_warnings: list[str]


class _Stream(asyncio.Protocol):
    """One stream over its own connection; `result` gets (first byte, end) in seconds."""

    def __init__(self, wire: bytes, result: asyncio.Future[tuple[float, float]]) -> None:
        self._wire, self._result = wire, result
        self._start = 0.0
        self._first: float | None = None
        self._tail = b""
        self._seen_done = False
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._start = time.perf_counter()
        cast(asyncio.Transport, transport).write(self._wire)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if self._first is None:
            self._first = now - self._start
            if not data.startswith(b"HTTP/1.1 200"):
                self._fail(f"answer {data[:80]!r}")
                return
        self._seen_done = self._seen_done or b"[DONE]" in self._tail + data
        self._tail = (self._tail + data)[-64:]
        if self._seen_done and self._tail.endswith(_END) and not self._result.done():
            self._result.set_result((self._first, now - self._start))
            if self._transport is not None:
                self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"the stream ended early ({exc!r})")

    def _fail(self, why: str) -> None:
        if not self._result.done():
            self._result.set_exception(RuntimeError(why))
        if self._transport is not None:
            self._transport.close()


async def _stream(host: str, port: int, wire: bytes) -> tuple[float, float]:
    """One stream: (seconds to the first byte, seconds to the end); raises when it fails."""
    loop = asyncio.get_running_loop()
    result: asyncio.Future[tuple[float, float]] = loop.create_future()
    await loop.create_connection(lambda: _Stream(wire, result), host, port)
    return await result


async def _drive(call: Call, streams: int) -> dict[str, object]:
    parts = urlsplit(call.url)
    host, port, wire = parts.hostname or "127.0.0.1", parts.port or 80, call.wire()
    start = time.perf_counter()
    tasks = [asyncio.wait_for(_stream(host, port, wire), STREAM_TIMEOUT) for _ in range(streams)]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    wall = time.perf_counter() - start
    good = [r for r in results if isinstance(r, tuple)]
    bad = [r for r in results if isinstance(r, BaseException)]
    firsts, totals = [g[0] for g in good] or [float("nan")], [g[1] for g in good] or [0.0]
    return {
        "completed": len(good),
        "first_error": repr(bad[0]) if bad else "",
        "first_byte_p50": statistics.median(firsts),
        "first_byte_p99": sorted(firsts)[int(len(firsts) * 0.99)],
        "first_byte_max": max(firsts),
        "late": sum(1 for f in firsts if f > 1.0),
        "duration_p50": statistics.median(totals),
        "duration_max": max(totals),
        "wall": wall,
    }


def raise_open_files(want: int) -> None:
    """Raise this process's open-file limit to at least `want` (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want:
        raise SystemExit(f"the open-file limit ({hard}) is below the {want} this cell needs")
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def measure(target: Target, call: Call, streams: int, workdir: Path) -> Slow:
    """Run `streams` slow streams against `target` from a client pinned to the driver core."""
    spec = workdir / f"slow-{target.name}.json"
    spec.write_text(
        json.dumps({"url": call.url, "headers": call.headers, "body": call.body.decode()})
    )
    procstat.reset_peak_rss(target.pids)
    log_sizes = logs.sizes(target.logs)
    cpu_before = procstat.cpu_seconds(target.pids)
    cmd = pinned([sys.executable, "-m", "tests.bench.slow_streams"], DRIVER_CORE, driver=True)
    done = subprocess.run(
        [*cmd, "--spec", str(spec), "--streams", str(streams)],
        capture_output=True,
        text=True,
        timeout=STREAM_TIMEOUT + 60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the slow-streams client failed: {done.stderr[-2000:]}")
    raw = json.loads(done.stdout)
    return Slow(
        target=target.name,
        streams=streams,
        rss_mb=procstat.peak_rss_mb(target.pids),
        cpu_seconds=procstat.cpu_seconds(target.pids) - cpu_before,
        log_warnings=logs.warnings_since(log_sizes)[:20],
        **raw,
    )


def as_record(slow: Slow) -> dict[str, object]:
    """The JSON form of one target's result."""
    return asdict(slow)


def main(argv: list[str] | None = None) -> int:
    """The client process: read the request from `--spec`, print the result as JSON."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.slow_streams")
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--streams", type=int, default=1000)
    args = parser.parse_args(argv)
    spec = json.loads(args.spec.read_text())
    call = Call(spec["url"], spec["headers"], spec["body"].encode(), expect=b"[DONE]")
    raise_open_files(args.streams + 64)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(_drive(call, args.streams))
    else:
        result = uvloop.run(_drive(call, args.streams))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
