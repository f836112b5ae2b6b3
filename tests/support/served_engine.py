"""The engine served as `junction-engine` serves it, on a free port, in a thread.

Same uvicorn options (`junction_engine.__main__.uvicorn_options`: the
engine's own HTTP protocol with its client deadlines) and the same event
loop (uvloop), so tests of slow and greedy clients see the real sockets.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
import uvloop

from junction_engine.__main__ import uvicorn_options
from junction_engine.settings import EngineSettings
from tests.support.stack import free_port


@contextmanager
def served_engine(app: Any, settings: EngineSettings) -> Iterator[tuple[str, int]]:
    """Yield the engine's base URL and port until the block ends."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="on", **uvicorn_options(settings)
    )
    server = uvicorn.Server(config)

    def run() -> None:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(server.serve())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the engine did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def server_errors() -> Iterator[list[logging.LogRecord]]:
    """ERROR records of the engine and of uvicorn (whose loggers do not propagate)."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(logging.ERROR)
    loggers = [logging.getLogger(n) for n in ("uvicorn.error", "junction")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield records
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
