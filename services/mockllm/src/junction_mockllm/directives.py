"""Per-request knobs, read from ``+``-separated model-name directives and ``x-mock-*`` headers.

A gateway does not forward its client's headers, so the model name is the
channel gateway tests use: ``gpt-mock+fault=429+retry_after=2`` is model
``gpt-mock`` with two directives. Headers set the same knobs for direct
callers and win over the model name when both are given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from junction_mockllm.settings import MockSettings

# `nousage`: an OpenAI-compatible server that reports no usage, plain or streamed
NAMED_FAULTS = frozenset({"timeout", "cut", "badkey", "overloaded", "nousage", "midstream"})
#: how ``echo_key`` quotes the key the mock received back in its error message
ECHO_FORMS = ("whole", "no_prefix", "fragment", "base64", "urlencoded", "hex")
#: OpenAI-compatible servers whose quirks ``dialect`` mimics (see `dialects`)
DIALECTS = ("ollama", "vllm")

# directive key -> (Knobs field, header carrying the same knob)
_INT_KNOBS: dict[str, tuple[str, str]] = {
    "latency": ("latency_ms", "x-mock-latency-ms"),
    "ttfb": ("ttfb_ms", "x-mock-ttfb-ms"),
    "chunk_delay": ("chunk_delay_ms", "x-mock-chunk-delay-ms"),
    "retry_after": ("retry_after", "x-mock-retry-after"),
    "tokens": ("output_tokens", "x-mock-output-tokens"),
    "input_tokens": ("input_tokens", "x-mock-input-tokens"),
    "cached": ("cached_tokens", "x-mock-cached-tokens"),
    "cache_write": ("cache_write_tokens", "x-mock-cache-write-tokens"),
}
FAULT_HEADER = "x-mock-fault"
ECHO_HEADER = "x-mock-echo-key"
DIALECT_HEADER = "x-mock-dialect"


class DirectiveError(ValueError):
    """A directive or ``x-mock-*`` header the mock cannot read."""


@dataclass(frozen=True)
class Knobs:
    """Everything a single request may tune; ``model`` is the name without directives."""

    model: str
    fault: str | None = None
    latency_ms: int = 0
    ttfb_ms: int = 0
    chunk_delay_ms: int = 0
    retry_after: int | None = None
    output_tokens: int | None = None
    input_tokens: int | None = None
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    #: quote the received key in the error message, in this form (`ECHO_FORMS`)
    echo_key: str | None = None
    #: answer as this OpenAI-compatible server does (`DIALECTS`), on the OpenAI endpoints
    dialect: str | None = None

    @property
    def fault_status(self) -> int | None:
        """The HTTP status of a numeric fault (``fault=503``), else None."""
        if self.fault is not None and self.fault.isdigit():
            return int(self.fault)
        return None


def _check_fault(value: str) -> str:
    fault = value.strip().lower()
    if fault in NAMED_FAULTS:
        return fault
    if fault.isdigit() and 400 <= int(fault) <= 599:
        return fault
    raise DirectiveError(
        f"unknown fault {value!r}: use an HTTP status 400-599 or one of {sorted(NAMED_FAULTS)}"
    )


def _check_echo(value: str) -> str:
    form = value.strip().lower()
    if form not in ECHO_FORMS:
        raise DirectiveError(f"unknown echo_key form {value!r}: use one of {list(ECHO_FORMS)}")
    return form


def _check_dialect(value: str) -> str:
    dialect = value.strip().lower()
    if dialect not in DIALECTS:
        raise DirectiveError(f"unknown dialect {value!r}: use one of {list(DIALECTS)}")
    return dialect


def _check_int(key: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise DirectiveError(f"mock directive {key!r} needs an integer, got {value!r}") from None
    if number < 0:
        raise DirectiveError(f"mock directive {key!r} must be >= 0, got {number}")
    return number


def _apply(values: dict[str, Any], key: str, value: str) -> None:
    if key == "fault":
        values["fault"] = _check_fault(value)
    elif key == "echo_key":
        values["echo_key"] = _check_echo(value)
    elif key == "dialect":
        values["dialect"] = _check_dialect(value)
    elif key in _INT_KNOBS:
        values[_INT_KNOBS[key][0]] = _check_int(key, value)
    else:
        known = sorted(["fault", "echo_key", "dialect", *_INT_KNOBS])
        raise DirectiveError(f"unknown mock directive {key!r}; known: {known}")


def split_model(raw: str) -> tuple[str, list[tuple[str, str]]]:
    """Split ``base+key=value+...`` into the base model and its directives."""
    base, *parts = raw.split("+")
    directives: list[tuple[str, str]] = []
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise DirectiveError(f"mock directive {part!r} is not of the form key=value")
        directives.append((key.strip().lower(), value.strip()))
    return base, directives


def read_knobs(raw_model: str | None, headers: Mapping[str, str], settings: MockSettings) -> Knobs:
    """Knobs of one request: settings defaults, then model directives, then headers."""
    base, directives = split_model(raw_model or "")
    values: dict[str, Any] = {
        "latency_ms": settings.latency_ms,
        "ttfb_ms": settings.ttfb_ms,
        "chunk_delay_ms": settings.chunk_delay_ms,
    }
    for key, value in directives:
        _apply(values, key, value)
    if FAULT_HEADER in headers:
        _apply(values, "fault", headers[FAULT_HEADER])
    if ECHO_HEADER in headers:
        _apply(values, "echo_key", headers[ECHO_HEADER])
    if DIALECT_HEADER in headers:
        _apply(values, "dialect", headers[DIALECT_HEADER])
    for key, (_, header) in _INT_KNOBS.items():
        if header in headers:
            _apply(values, key, headers[header])
    return Knobs(model=base, **values)
