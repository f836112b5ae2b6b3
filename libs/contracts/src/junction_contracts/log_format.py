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
from typing import Any, Literal

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


def _timestamp(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line; values JSON cannot hold are written as strings."""

    def format(self, record: logging.LogRecord) -> str:
        ts, level, message = (
            _timestamp(record.created),
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


def configure_logging(level: int | str, fmt: LogFormat = "text") -> None:
    """Send the root logger's records to stderr in `fmt`, replacing earlier handlers.

    Replacing (not adding): a worker process or a second call must not write
    each line twice.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
