"""What is measured (scenarios, connection counts), where (targets), and the requests.

Targets that are not gateways (the upstream direct, the floor proxies) are
called as the provider itself is; gateways are called with the Junction
token and a Junction model whose deployment asks the fake upstream for the
same answer, so every target relays the same bytes:

- ``chat``: an OpenAI chat completion, whole;
- ``chat-stream``: the same, streamed (50 content chunks by default);
- ``cross-stream``: an OpenAI client of the gateway whose model is deployed
  on an ``anthropic`` provider, so the engine converts the request and every
  event of the Anthropic stream; the other targets relay that Anthropic
  stream as it is (the work a same-protocol relay of it costs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tests.bench.wrk import Call

PROMPT = "Say hello to the benchmark"
ANTHROPIC_VERSION = "2023-06-01"
UPSTREAM_MODEL = "bench-upstream"
SLOW_UPSTREAM_MODEL = "bench-slow-stream"  # the fake upstream paces bodies naming it
GATEWAY_MODEL = "bench"
CROSS_MODEL = "bench-cross"
SLOW_MODEL = "bench-slow"
SLOW_EVENTS = 101  # the slow stream's SSE events, the first at once, then one per interval
SLOW_INTERVAL_MS = 100

Kind = Literal["upstream", "floor", "gateway"]


@dataclass(frozen=True, slots=True)
class Scenario:
    """One kind of request and the connection counts it is measured at."""

    name: str
    stream: bool
    cross: bool
    connections: tuple[int, ...]
    note: str


@dataclass(frozen=True, slots=True)
class Target:
    """Where requests go, with the processes that serve them (CPU and memory are theirs)."""

    name: str
    base_url: str
    key: str
    kind: Kind
    pids: tuple[int, ...]
    pinned: bool = True  # served from the server core alone (the upstream: the driver core)
    logs: tuple[Path, ...] = ()  # where its processes log

    @property
    def gateway(self) -> bool:
        """Whether the target is Junction (token, routing, telemetry)."""
        return self.kind == "gateway"


SCENARIOS = (
    Scenario("chat", False, False, (1, 16, 64), "OpenAI chat completion, whole"),
    Scenario("chat-stream", True, False, (16, 64), "OpenAI chat completion, streamed"),
    Scenario(
        "cross-stream",
        True,
        True,
        (16, 64),
        "OpenAI client, Anthropic provider: the engine converts; the others relay it",
    ),
)


def _openai(model: str, key: str, *, stream: bool) -> tuple[str, dict[str, str], dict[str, object]]:
    payload: dict[str, object] = {"model": model, "messages": [{"role": "user", "content": PROMPT}]}
    if stream:
        payload |= {"stream": True, "stream_options": {"include_usage": True}}
    return "/v1/chat/completions", {"authorization": f"Bearer {key}"}, payload


def _anthropic(model: str, key: str) -> tuple[str, dict[str, str], dict[str, object]]:
    payload: dict[str, object] = {
        "model": model,
        "max_tokens": 1024,
        "stream": True,
        "messages": [{"role": "user", "content": PROMPT}],
    }
    return "/v1/messages", {"x-api-key": key, "anthropic-version": ANTHROPIC_VERSION}, payload


def call_for(scenario: Scenario, target: Target) -> Call:
    """The request `scenario` sends to `target`."""
    if scenario.cross and not target.gateway:
        path, auth, payload = _anthropic(UPSTREAM_MODEL, target.key)
        expect = b"message_stop"
    else:
        model = (CROSS_MODEL if scenario.cross else GATEWAY_MODEL) if target.gateway else None
        path, auth, payload = _openai(model or UPSTREAM_MODEL, target.key, stream=scenario.stream)
        expect = b"[DONE]" if scenario.stream else b'"choices"'
    # identity: Caddy would gzip JSON for clients that accept it, and the
    # comparison is about forwarding, not compression
    headers = {"content-type": "application/json", "accept-encoding": "identity", **auth}
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Call(url=target.base_url + path, headers=headers, body=body, expect=expect)


def slow_call(target: Target) -> Call:
    """A streamed chat completion the fake upstream paces (the slow-streams cell)."""
    model = SLOW_MODEL if target.gateway else SLOW_UPSTREAM_MODEL
    path, auth, payload = _openai(model, target.key, stream=True)
    headers = {"content-type": "application/json", "accept-encoding": "identity", **auth}
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Call(url=target.base_url + path, headers=headers, body=body, expect=b"[DONE]")
