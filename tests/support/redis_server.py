"""A Redis server of the test's own, on a free loopback port, that the test may freeze.

SIGSTOP makes it the worst kind of outage: connections stay open and
commands are accepted by the kernel, but nothing answers. SIGCONT thaws it.
Only this process is ever signalled, never the shared Redis of the suite.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.conftest import unavailable
from tests.support.stack import free_port


@dataclass
class RedisServer:
    port: int
    popen: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def freeze(self) -> None:
        self.popen.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.popen.send_signal(signal.SIGCONT)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5)


@contextmanager
def redis_server(workdir: Path) -> Iterator[RedisServer]:
    """Start `redis-server` (no persistence) and stop it when the block ends."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server")
        raise AssertionError("unreachable")
    port = free_port()
    log = (workdir / f"redis-{port}.log").open("wb")
    popen = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = RedisServer(port, popen)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with server.client() as client:
                    client.ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline or popen.poll() is not None:
                    raise
                time.sleep(0.05)
        yield server
    finally:
        if popen.poll() is None:
            server.thaw()  # a stopped process does not act on SIGTERM
            popen.terminate()
            try:
                popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()
        log.close()
