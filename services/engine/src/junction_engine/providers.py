"""How to call each provider type: URL, auth headers and wire protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from junction_contracts import ProviderRoute

Protocol = Literal["openai", "anthropic", "gemini"]
Operation = Literal["chat", "count_tokens", "embeddings", "images"]

ANTHROPIC_VERSION = "2023-06-01"

PROTOCOL_OF: dict[str, Protocol] = {
    "openai": "openai",
    "openai-compatible": "openai",
    "anthropic": "anthropic",
    "gemini": "gemini",
}


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    url: str
    headers: dict[str, str]


def protocol_of(provider: ProviderRoute) -> Protocol:
    return PROTOCOL_OF[provider.type]


def offers(provider: ProviderRoute, operation: Operation) -> bool:
    """Whether the provider type has an endpoint for `operation`."""
    return operation in _PATHS[protocol_of(provider)]


class Unsupported(Exception):
    """This provider type does not offer the operation."""


def upstream_request(
    provider: ProviderRoute,
    api_key: str,
    upstream_model: str,
    operation: Operation,
    *,
    stream: bool = False,
    extra: dict[str, str] | None = None,
) -> UpstreamRequest:
    """The URL and headers of one call to `provider` (the body is built elsewhere).

    Base URL conventions follow each vendor's SDK: OpenAI-style bases include
    the version (`https://api.openai.com/v1`), Anthropic and Gemini bases do not.
    Raises Unsupported when the provider type has no such endpoint.
    """
    base = provider.base_url.rstrip("/")
    headers = {"content-type": "application/json", "accept-encoding": "identity"}
    headers.update(provider.extra_headers)
    if stream:
        headers["accept"] = "text/event-stream"
    proto = protocol_of(provider)
    path = _PATHS[proto].get(operation)
    if path is None:
        raise Unsupported(f"{provider.type} providers do not offer {operation}")
    if proto == "openai":
        headers["authorization"] = f"Bearer {api_key}"
    elif proto == "anthropic":
        headers["x-api-key"] = api_key
        headers.setdefault("anthropic-version", ANTHROPIC_VERSION)
    else:
        headers["x-goog-api-key"] = api_key
        if operation == "chat" and stream:
            path = ":streamGenerateContent?alt=sse"
        path = f"/v1beta/models/{quote(upstream_model, safe='')}{path}"
    if extra:
        headers.update(extra)
    return UpstreamRequest(url=base + path, headers=headers)


_PATHS: dict[Protocol, dict[Operation, str]] = {
    "openai": {
        "chat": "/chat/completions",
        "embeddings": "/embeddings",
        "images": "/images/generations",
    },
    "anthropic": {"chat": "/v1/messages", "count_tokens": "/v1/messages/count_tokens"},
    "gemini": {"chat": ":generateContent", "count_tokens": ":countTokens"},
}
