"""How both services write their logs: JSON lines for machines, text for people.

``JUNCTION_LOG_FORMAT=json`` writes one JSON object per line, so a log
shipper needs no parsing rules: ``ts`` (UTC, ISO 8601, milliseconds),
``level``, ``logger``, ``message``, then the record's extra fields (what a
caller passed as ``extra=``) and ``exc`` for a trace. ``text`` (the default)
is the same record on one readable line, the extra fields as ``key=value``.

One formatter for both planes, standard library only: the engine's per-call
line and the control plane's lines parse the same way.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import IO, Any, Literal

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")

# the attributes every LogRecord has: anything else on a record came in as `extra=`
# (but uvicorn's `color_message`, the message again with terminal colours)
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "taskName", "color_message"}
)


# built once: `json.dumps` with options builds an encoder per call
_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False, check_circular=False)


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a caller added to `record` with ``extra=``, in the order given."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


def timestamp(created: float) -> str:
    """`created` (seconds since the epoch) as the ``ts`` of a line: UTC, milliseconds."""
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line; values JSON cannot hold are written as strings."""

    def format(self, record: logging.LogRecord) -> str:
        ts, level, message = (
            timestamp(record.created),
            record.levelname.lower(),
            record.getMessage(),
        )
        line: dict[str, Any] = {"ts": ts, "level": level, "logger": record.name, "message": message}
        extra = extra_fields(record)
        if extra:
            # the standard keys stay first, and an extra of the same name cannot replace them
            line.update(extra)
            line.update(ts=ts, level=level, logger=record.name, message=message)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return _ENCODER.encode(line)


class TextFormatter(logging.Formatter):
    """``<time> <LEVEL> <logger>: <message> key=value ...`` for a developer's terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record)
        extra = extra_fields(record)
        if not extra:
            return text
        return text + " " + " ".join(f"{k}={v}" for k, v in extra.items() if v is not None)


def log_format(raw: str | None) -> LogFormat:
    """The `JUNCTION_LOG_FORMAT` value, checked; ValueError names the choices."""
    value = (raw or "text").strip().lower()
    if value == "json":
        return "json"
    if value == "text":
        return "text"
    raise ValueError(f"JUNCTION_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")


#: the attribute `configure_logging` marks its handler with (the format it writes)
_MARK = "junction_log_format"


def json_stream(logger: logging.Logger, level: int = logging.INFO) -> IO[str] | None:
    """The stream a record of `logger` at `level` would reach through JSON lines alone.

    That is: `configure_logging` installed the root's only handler in JSON,
    and neither `logger` nor a parent on the way has a handler or a filter of
    its own (a test's capture, say). Then a writer may put lines shaped as
    `JsonFormatter` shapes them straight onto the stream; otherwise None, and
    its records must go through `logging`.
    """
    if not logger.isEnabledFor(level):
        return None
    node: logging.Logger | None = logger
    while node is not None:
        if node.filters:
            return None
        if node.parent is None:  # the root
            handlers = node.handlers
            if len(handlers) != 1:
                return None
            handler = handlers[0]
            if getattr(handler, _MARK, None) != "json" or handler.filters or handler.level > level:
                return None
            stream: IO[str] = handler.stream  # type: ignore[attr-defined]
            return stream
        if node.handlers or not node.propagate:
            return None
        node = node.parent
    return None


def configure_logging(level: int | str, fmt: LogFormat = "text") -> None:
    """Send the root logger's records to stderr in `fmt`, replacing earlier handlers.

    Replacing (not adding): a worker process or a second call must not write
    each line twice.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    setattr(handler, _MARK, fmt)
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
