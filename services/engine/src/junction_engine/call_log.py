"""One log line per finished call, for the operator who has only the logs.

Logger ``junction.engine.calls`` at INFO, message ``call finished``, with the
call's fields as the record's extras (so ``JUNCTION_LOG_FORMAT=json`` writes
them as keys of the line's object): request id, call id, tenant, the key's
public prefix (never the key), model, operation, deployment, provider,
client protocol, stream, status, HTTP status, error code, latency, time to
first token, tokens, cost and attempts. Never a prompt or an answer: the
record holds none.

Nothing is built when the logger is not enabled for INFO, and nothing at all
with ``JUNCTION_CALL_LOG=off``.

The line is on the path of every call, so it takes the short way when it
can: with the JSON format configured and the records going nowhere else,
`CallLines` encodes the line with orjson (the same keys in the same order as
`JsonFormatter`'s) and writes the lines of up to `FLUSH_SECONDS` in one
write, from the event loop but after the answer. A line so reaches the log
at most a tenth of a second after its call ended (its ``ts`` is the end);
a line of another logger written meanwhile may come before it. Any other
configuration (text, a filter, a test's capture) gets a `logging` record
per call, as before.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import IO, Any

import orjson

from junction_contracts.log_format import json_stream, timestamp
from junction_engine.calls import CallRecord

log = logging.getLogger("junction.engine.calls")

#: the fields every line carries (the names of its JSON keys)
FIELDS = (
    "request_id",
    "call_id",
    "tenant_id",
    "token_prefix",
    "model",
    "operation",
    "deployment_id",
    "provider_id",
    "client_protocol",
    "stream",
    "status",
    "http_status",
    "error_code",
    "latency_ms",
    "ttft_ms",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cost_usd",
    "attempts",
    "usage_estimated",
    "partial",
)


_APPEND_NEWLINE = orjson.OPT_APPEND_NEWLINE
#: how long a line may wait for the write that carries it
FLUSH_SECONDS = 0.1
#: a batch this long is written at once
MAX_BATCH = 512


#: the keys `JsonFormatter` writes before a record's extras
_HEAD = ("ts", "level", "logger", "message")


def _line(rec: CallRecord, ts: str) -> dict[str, Any]:
    """The line's object: `JsonFormatter`'s keys first, then `FIELDS` (one dict, no merge)."""
    usage = rec.usage
    return {
        "ts": ts,
        "level": "info",
        "logger": "junction.engine.calls",
        "message": "call finished",
        "request_id": rec.request_id,
        "call_id": rec.call_id,
        "tenant_id": rec.tenant_id,
        "token_prefix": rec.token_prefix,
        "model": rec.model,
        "operation": rec.operation,
        "deployment_id": rec.deployment_id,
        "provider_id": rec.provider_id,
        "client_protocol": rec.client_protocol,
        "stream": rec.stream,
        "status": rec.status,
        "http_status": rec.http_status,
        "error_code": rec.error_code,
        "latency_ms": round(rec.latency_ms, 1),
        "ttft_ms": None if rec.ttft_ms is None else round(rec.ttft_ms, 1),
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cached_input_tokens": usage.cached_input_tokens,
        "cost_usd": rec.cost_usd,
        "attempts": rec.attempts,
        "usage_estimated": rec.usage_estimated,
        "partial": rec.partial,
    }


def _fields(rec: CallRecord) -> dict[str, Any]:
    """The record's extras for the `logging` way."""
    line = _line(rec, "")
    for key in _HEAD:
        del line[key]
    return line


def _default(value: object) -> str:
    return str(value)  # as JsonFormatter writes what JSON cannot hold


class CallLines:
    """The calls' log lines, encoded at once and written in batches."""

    def __init__(self) -> None:
        # the batched lines, appended in place: one buffer grown as needed,
        # not a kept object per line
        self._batch = bytearray()
        self._lines = 0
        self._stream: IO[str] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._second, self._prefix = -1, ""
        #: lines a failed write lost (the stream closed, the disk full)
        self.lost = 0

    def __call__(self, rec: CallRecord) -> None:
        """Write `rec`'s line, when INFO is on for the calls' logger."""
        stream = json_stream(log)
        if stream is None:
            if log.isEnabledFor(logging.INFO):
                self.flush()  # what was batched comes first
                log.info("call finished", extra=_fields(rec))
            return
        if stream is not self._stream:
            self.flush()
            self._stream = stream
        now = time.time()
        second = int(now)
        if second != self._second:  # the formatted second, once a second
            self._second, self._prefix = second, timestamp(second)[:-5]
        line = _line(rec, f"{self._prefix}.{int(now % 1 * 1000):03d}Z")
        self._batch += orjson.dumps(line, default=_default, option=_APPEND_NEWLINE)
        self._lines += 1
        if self._lines >= MAX_BATCH:
            self.flush()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()  # no loop to come back: now
            else:
                self._timer = loop.call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        """Write every batched line now (a shutdown, a change of stream)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        data, lines = self._batch, self._lines
        self._batch, self._lines = bytearray(), 0
        if not lines or self._stream is None:
            return
        try:
            self._stream.flush()  # what the text layer holds goes first
            fd = self._stream.fileno()
        except (OSError, ValueError):  # no descriptor (a StringIO) or a closed one
            try:
                self._stream.write(data.decode())
                self._stream.flush()
            except (OSError, ValueError):
                self.lost += lines
            return
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(fd, view) :]
        except OSError:
            self.lost += lines


#: the process's writer (one stream, one batch)
log_call = CallLines()
