"""Knobs from model-name directives and x-mock-* headers; settings; the command line."""

from __future__ import annotations

import pytest

from junction_mockllm.__main__ import parse_args
from junction_mockllm.directives import DirectiveError, Knobs, read_knobs, split_model
from junction_mockllm.settings import MockSettings


def test_model_directives_are_split_off_the_base_name() -> None:
    assert split_model("gpt-mock+fault=429+retry_after=2") == (
        "gpt-mock",
        [("fault", "429"), ("retry_after", "2")],
    )
    assert split_model("plain") == ("plain", [])


def test_model_directives_set_every_knob() -> None:
    raw = "x+fault=cut+latency=200+ttfb=300+chunk_delay=20+tokens=57+retry_after=2"
    raw += "+input_tokens=9+cached=4+cache_write=3"
    knobs = read_knobs(raw, {}, MockSettings())
    assert knobs == Knobs(
        model="x",
        fault="cut",
        latency_ms=200,
        ttfb_ms=300,
        chunk_delay_ms=20,
        retry_after=2,
        output_tokens=57,
        input_tokens=9,
        cached_tokens=4,
        cache_write_tokens=3,
    )


def test_headers_set_the_same_knobs_and_win_over_the_model_name() -> None:
    headers = {
        "x-mock-fault": "503",
        "x-mock-latency-ms": "5",
        "x-mock-retry-after": "7",
        "x-mock-output-tokens": "3",
        "x-mock-chunk-delay-ms": "1",
        "x-mock-ttfb-ms": "2",
    }
    knobs = read_knobs("x+fault=500+latency=100", headers, MockSettings())
    assert knobs.fault == "503"
    assert knobs.fault_status == 503
    assert (knobs.latency_ms, knobs.retry_after, knobs.output_tokens) == (5, 7, 3)
    assert (knobs.chunk_delay_ms, knobs.ttfb_ms) == (1, 2)


def test_settings_give_the_default_delays() -> None:
    settings = MockSettings(latency_ms=10, chunk_delay_ms=20, ttfb_ms=30)
    knobs = read_knobs("x", {}, settings)
    assert (knobs.latency_ms, knobs.chunk_delay_ms, knobs.ttfb_ms) == (10, 20, 30)
    assert knobs.fault is None
    assert knobs.fault_status is None


@pytest.mark.parametrize(
    "raw",
    ["x+fault=explode", "x+fault=200", "x+latency=soon", "x+latency=-1", "x+speed=9", "x+oops"],
)
def test_unreadable_directives_are_refused(raw: str) -> None:
    with pytest.raises(DirectiveError):
        read_knobs(raw, {}, MockSettings())


def test_any_key_is_accepted_unless_it_starts_with_invalid() -> None:
    settings = MockSettings()
    assert settings.accepts_key("anything")
    assert not settings.accepts_key("invalid-key")
    assert not settings.accepts_key("")
    assert not settings.accepts_key(None)


def test_configured_keys_are_the_only_ones_accepted() -> None:
    settings = MockSettings(api_keys=("k1", "k2"))
    assert settings.accepts_key("k2")
    assert not settings.accepts_key("anything")


def test_settings_refuse_negative_delays() -> None:
    with pytest.raises(ValueError, match="latency_ms"):
        MockSettings(latency_ms=-1)


def test_command_line_builds_settings() -> None:
    settings, host, port = parse_args(
        ["--port", "9000", "--api-key", "a", "--api-key", "b", "--latency-ms", "15"]
    )
    assert (host, port) == ("127.0.0.1", 9000)
    assert settings.api_keys == ("a", "b")
    assert settings.latency_ms == 15
    assert parse_args([])[2] == 8100
