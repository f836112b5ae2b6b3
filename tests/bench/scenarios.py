"""What is measured (scenarios) and where (targets), and the request for each pair.

The upstream targets (mock direct, minimal proxy) are called with the mock's
own model names, whose directives (``+tokens=50``) shape the answer; the
gateway targets are called with the Junction model that maps onto the same
upstream model, so every target asks the mock for the same work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from tests.bench.load import Call

Protocol = Literal["openai", "anthropic"]
ANTHROPIC_VERSION = "2023-06-01"
STREAM_TOKENS = 50
PROMPT = "Say hello to the benchmark"


@dataclass(frozen=True, slots=True)
class Scenario:
    """One kind of request, as a client of `protocol` sends it."""

    name: str
    protocol: Protocol
    stream: bool
    upstream_model: str  # the mock's name, directives included
    gateway_model: str  # the Junction model routed to the openai provider
    note: str


@dataclass(frozen=True, slots=True)
class Target:
    """Where requests go: `gateway` targets take the Junction token, the others the mock key."""

    name: str
    base_url: str
    key: str
    gateway: bool


SCENARIOS = (
    Scenario("chat", "openai", False, "mock-gpt", "bench", "chat completion, small prompt"),
    Scenario(
        "chat-stream",
        "openai",
        True,
        f"mock-gpt+tokens={STREAM_TOKENS}",
        "bench-stream",
        f"streamed chat completion, {STREAM_TOKENS} chunks",
    ),
    Scenario(
        "messages-stream",
        "anthropic",
        True,
        f"mock-claude+tokens={STREAM_TOKENS}",
        "bench-stream",
        "Anthropic /v1/messages stream; the gateway converts to/from the openai provider",
    ),
)


def call_for(scenario: Scenario, target: Target) -> Call:
    """The request `scenario` sends to `target`."""
    model = scenario.gateway_model if target.gateway else scenario.upstream_model
    # identity: Caddy would gzip JSON for clients that accept it, and the
    # comparison is about forwarding, not compression
    headers = {"content-type": "application/json", "accept-encoding": "identity"}
    payload: dict[str, object] = {
        "model": model,
        "messages": [{"role": "user", "content": PROMPT}],
    }
    if scenario.protocol == "openai":
        headers["authorization"] = f"Bearer {target.key}"
        path = "/v1/chat/completions"
        if scenario.stream:
            payload |= {"stream": True, "stream_options": {"include_usage": True}}
        expect = b"[DONE]" if scenario.stream else b'"choices"'
    else:
        headers |= {"x-api-key": target.key, "anthropic-version": ANTHROPIC_VERSION}
        path = "/v1/messages"
        payload |= {"max_tokens": 1024, "stream": scenario.stream}
        expect = b"message_stop" if scenario.stream else b'"content"'
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Call(url=target.base_url + path, headers=headers, body=body, expect=expect)
