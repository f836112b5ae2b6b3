"""The load generator: wrk, pinned to its core, driven by a Lua script per request kind.

wrk builds the request once from the script's `wrk.method/body/headers` (no
per-request Lua), keeps every connection alive and reports through the
script's `done()`: one JSON line with the request count, bytes read, wrk's
own error counters (connect, read, write, timeout, and status for answers of
400 and above) and latency percentiles. An answer of the right status but
the wrong body would slip past those counters, so each cell also starts with
one `probe` of the same request (status and body checked) and the bytes wrk
read per request are held against the probe's.
"""

from __future__ import annotations

import json
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httptools

from tests.bench.cores import pinned

_MARK = "BENCHJSON "
_REPORT = Path(__file__).with_name("wrk_report.lua")
ERROR_KINDS = ("connect", "read", "write", "status", "timeout")


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP POST, the same every time; `expect` is found in every good answer's body."""

    url: str
    headers: dict[str, str]
    body: bytes
    expect: bytes

    def wire(self) -> bytes:
        """The request's bytes as wrk sends them."""
        parts = urlsplit(self.url)
        lines = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.netloc}"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body

    def lua(self) -> str:
        """The wrk script sending this request and reporting as JSON."""
        text = self.body.decode()
        level = next(n for n in range(1, 64) if f"]{'=' * n}]" not in text)
        quote = "=" * level
        lines = ['wrk.method = "POST"', f"wrk.body = [{quote}[{text}]{quote}]"]
        lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in self.headers.items()]
        return "\n".join(lines) + "\n" + _REPORT.read_text()


@dataclass(frozen=True, slots=True)
class Run:
    """What one wrk run measured (latencies in ms)."""

    requests: int
    seconds: float
    bytes: int
    errors: dict[str, int]
    p50: float
    p99: float
    mean: float

    @property
    def rps(self) -> float:
        """Completed requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def error_count(self) -> int:
        """Failed requests of every kind wrk counts."""
        return sum(self.errors.values())


def run(call: Call, script: Path, *, connections: int, seconds: int, core: str) -> Run:
    """Drive `call` with `connections` connections for `seconds`, wrk pinned to `core`."""
    script.write_text(call.lua())
    cmd = pinned(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s"], core, driver=True)
    cmd += ["--timeout", "10s", "-s", str(script), call.url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith(_MARK)), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    raw = json.loads(line.removeprefix(_MARK))
    return Run(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        bytes=raw["bytes"],
        errors={kind: raw[kind] for kind in ERROR_KINDS},
        p50=raw["p50_us"] / 1000,
        p99=raw["p99_us"] / 1000,
        mean=raw["mean_us"] / 1000,
    )


@dataclass(frozen=True, slots=True)
class Probe:
    """One request sent by hand: its status, the bytes of the whole answer, and a verdict."""

    status: int
    bytes: int
    problem: str  # empty when the answer is good


class _Answer:
    def __init__(self) -> None:
        self.body = bytearray()
        self.complete = False

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.complete = True


def probe(call: Call, timeout: float = 15.0) -> Probe:
    """Send `call` once over a fresh connection and check its answer."""
    parts = urlsplit(call.url)
    answer = _Answer()
    parser = httptools.HttpResponseParser(answer)
    size = 0
    with socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout) as sock:
        sock.sendall(call.wire())
        while not answer.complete:
            data = sock.recv(65536)
            if not data:
                break
            size += len(data)
            parser.feed_data(data)
    status = parser.get_status_code()
    if not answer.complete:
        problem = "the answer was cut"
    elif status != 200:
        problem = f"status {status}: {bytes(answer.body[:200])!r}"
    elif call.expect not in answer.body:
        problem = f"{call.expect!r} missing from the answer: {bytes(answer.body[-200:])!r}"
    else:
        problem = ""
    return Probe(status=status, bytes=size, problem=problem)
