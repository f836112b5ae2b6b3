"""The per-call log line's short way: orjson lines, written a batch at a time.

With JSON logging configured and nothing else listening, `CallLines` writes
the lines itself, one write per batch, each line the object `JsonFormatter`
would have written for the same record. Anything else listening (a test's
capture, a filter) gets a `logging` record per call instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from junction_contracts.log_format import JsonFormatter, configure_logging
from junction_engine import call_log
from junction_engine.call_log import FIELDS, CallLines
from junction_engine.calls import CallRecord, Usage


def _record(n: int) -> CallRecord:
    return CallRecord(
        call_id=f"call-{n}",
        token_id="tok-1",
        tenant_id="acme",
        model="gpt-4o-mini",
        client_protocol="openai",
        stream=n % 2 == 0,
        status="success",
        started_at=1.0,
        latency_ms=12.345,
        ttft_ms=3.21 if n % 2 == 0 else None,
        deployment_id="dep-1",
        provider_id="prov-1",
        attempts=1,
        usage=Usage(input_tokens=10 + n, output_tokens=5, cached_input_tokens=2),
        cost_usd=0.000125,
        request_id=f"req-{n}",
        token_prefix="jk-live-ab12",
    )


@pytest.fixture
def json_log(tmp_path: Path) -> Path:
    """Where `_json_logging` writes."""
    path = tmp_path / "engine.log"
    path.touch()
    return path


@contextmanager
def _json_logging(path: Path) -> Iterator[None]:
    """JSON logging at INFO onto `path`, as `junction-engine` configures it on stderr.

    In the test's body, not a fixture: pytest puts its own stderr and its
    capture handlers in place only once the test runs; both are restored.
    """
    root = logging.getLogger()
    saved, level, stderr = root.handlers[:], root.level, sys.stderr
    with path.open("w") as stream:
        sys.stderr = stream
        configure_logging("info", "json")
        try:
            yield
        finally:
            sys.stderr = stderr
            root.handlers[:] = saved
            root.setLevel(level)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _as_formatter_writes(rec: CallRecord, lines: CallLines) -> dict[str, Any]:
    """The object the `logging` way writes for `rec`, but its time."""
    captured: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append(record)

    keep = Keep()
    call_log.log.addHandler(keep)  # a listener of its own, and no other: the `logging` way
    call_log.log.propagate = False
    try:
        lines(rec)
    finally:
        call_log.log.removeHandler(keep)
        call_log.log.propagate = True
    [record] = captured
    line: dict[str, Any] = json.loads(JsonFormatter().format(record))
    del line["ts"]
    return line


async def test_a_batch_of_lines_is_one_write_after_the_calls(
    json_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[int] = []
    real_write = call_log.os.write

    def counted(fd: int, data: bytes | memoryview) -> int:
        writes.append(len(data))
        return real_write(fd, data)

    monkeypatch.setattr(call_log.os, "write", counted)
    lines = CallLines()

    with _json_logging(json_log):
        for n in range(50):
            lines(_record(n))
        assert json_log.read_text() == ""  # nothing on the call's path
        await asyncio.sleep(call_log.FLUSH_SECONDS * 2)

    assert len(writes) == 1
    written = _lines(json_log)
    assert [line["request_id"] for line in written] == [f"req-{n}" for n in range(50)]
    for line in written:
        assert list(line)[:4] == ["ts", "level", "logger", "message"]
        assert set(FIELDS) <= line.keys()


async def test_each_line_is_what_the_json_formatter_writes_for_the_call(json_log: Path) -> None:
    lines = CallLines()

    with _json_logging(json_log):
        expected = [_as_formatter_writes(_record(n), lines) for n in range(2)]
        for n in range(2):
            lines(_record(n))
        lines.flush()

    written = _lines(json_log)
    for line in written:
        assert line.pop("ts").endswith("Z")
    assert written == expected
    assert written[0]["latency_ms"] == 12.3
    assert (written[0]["ttft_ms"], written[1]["ttft_ms"]) == (3.2, None)


async def test_a_full_batch_is_written_at_once(json_log: Path) -> None:
    lines = CallLines()

    with _json_logging(json_log):
        for n in range(call_log.MAX_BATCH):
            lines(_record(n))
        assert len(_lines(json_log)) == call_log.MAX_BATCH


def test_without_a_running_loop_a_line_is_written_at_once(json_log: Path) -> None:
    lines = CallLines()

    with _json_logging(json_log):
        lines(_record(7))

    [line] = _lines(json_log)
    assert line["call_id"] == "call-7"


async def test_a_listener_of_its_own_gets_records_and_the_batch_goes_first(
    json_log: Path,
) -> None:
    lines = CallLines()
    captured: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append(record)

    with _json_logging(json_log):
        lines(_record(1))  # batched: nothing else listens yet
        call_log.log.addHandler(keep := Keep())
        try:
            lines(_record(2))
        finally:
            call_log.log.removeHandler(keep)
        # the batched line was written first, then the record's through the formatter
        assert [line["call_id"] for line in _lines(json_log)] == ["call-1", "call-2"]

    [record] = captured
    assert record.__dict__["call_id"] == "call-2"


async def test_nothing_is_built_when_info_is_off(json_log: Path) -> None:
    lines = CallLines()

    with _json_logging(json_log):
        logging.getLogger().setLevel(logging.WARNING)
        lines(_record(1))
        lines.flush()

    assert json_log.read_text() == ""


async def test_a_write_that_fails_counts_its_lines_lost(
    json_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(fd: int, data: bytes | memoryview) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(call_log.os, "write", broken)
    lines = CallLines()

    with _json_logging(json_log):
        for n in range(3):
            lines(_record(n))
        lines.flush()

    assert lines.lost == 3
