"""The shared log formats: JSON lines that parse, text lines a person reads."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from junction_contracts.log_format import (
    JsonFormatter,
    TextFormatter,
    configure_logging,
    extra_fields,
    json_stream,
    log_format,
)


def _record(msg: str = "call %s", *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("junction.test", logging.INFO, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


def test_a_json_line_holds_time_level_logger_message_and_the_extras() -> None:
    line = JsonFormatter().format(_record("call %s", "done", request_id="r-1", tokens=7))

    parsed = json.loads(line)
    assert "\n" not in line
    assert parsed["level"] == "info"
    assert parsed["logger"] == "junction.test"
    assert parsed["message"] == "call done"
    assert (parsed["request_id"], parsed["tokens"]) == ("r-1", 7)
    assert parsed["ts"].endswith("Z")
    assert parsed["ts"][10] == "T"


def test_a_json_line_keeps_a_trace_on_one_line_and_writes_odd_values_as_text() -> None:
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record = logging.LogRecord(
            "junction.test", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    record.__dict__["where"] = object()

    line = JsonFormatter().format(record)

    parsed = json.loads(line)
    assert "\n" not in line
    assert "ValueError: boom" in parsed["exc"]
    assert parsed["where"].startswith("<object object")


def test_an_extra_cannot_overwrite_the_standard_keys() -> None:
    record = _record("real message")
    record.__dict__["level"] = "forged"

    parsed = json.loads(JsonFormatter().format(record))

    assert parsed["level"] == "info"


def test_the_text_line_appends_the_extras_as_key_value() -> None:
    line = TextFormatter().format(_record("call %s", "done", request_id="r-1", ttft_ms=None))

    assert line.endswith("INFO junction.test: call done request_id=r-1")


def test_records_without_extras_have_none() -> None:
    assert extra_fields(_record("plain")) == {}


@pytest.mark.parametrize(("raw", "fmt"), [(None, "text"), ("", "text"), ("JSON", "json")])
def test_the_setting_reads_text_or_json(raw: str | None, fmt: str) -> None:
    assert log_format(raw) == fmt


def test_another_format_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="JUNCTION_LOG_FORMAT must be one of text, json"):
        log_format("xml")


def test_configuring_twice_leaves_one_handler(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    try:
        configure_logging("info", "json")
        configure_logging("info", "json")
        logging.getLogger("junction.test").info("once", extra={"n": 1})
        lines = capsys.readouterr().err.splitlines()
    finally:
        root.handlers[:] = saved
        root.setLevel(level)
    assert [json.loads(line)["message"] for line in lines] == ["once"]


def test_json_stream_is_the_configured_stream_only_when_nothing_else_listens() -> None:
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    logger = logging.getLogger("junction.test.stream")
    try:
        configure_logging("info", "json")
        assert json_stream(logger) is root.handlers[0].stream  # type: ignore[attr-defined]
        assert json_stream(logger, logging.DEBUG) is None  # below the level

        logger.addFilter(logging.Filter("elsewhere"))
        assert json_stream(logger) is None
        logger.filters.clear()

        logging.getLogger("junction.test").addHandler(extra := logging.NullHandler())
        assert json_stream(logger) is None
        logging.getLogger("junction.test").removeHandler(extra)

        logger.propagate = False
        assert json_stream(logger) is None
        logger.propagate = True

        configure_logging("info", "text")
        assert json_stream(logger) is None
    finally:
        root.handlers[:] = saved
        root.setLevel(level)
