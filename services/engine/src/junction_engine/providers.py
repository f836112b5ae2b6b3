"""How to call each provider type: URL, auth headers and wire protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from junction_contracts import ProviderRoute

Protocol = Literal["openai", "anthropic", "gemini"]

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


def chat_request(
    provider: ProviderRoute,
    api_key: str,
    upstream_model: str,
    *,
    stream: bool,
    extra: dict[str, str] | None = None,
) -> UpstreamRequest:
    """The URL and headers of a chat call to `provider` (body built elsewhere).

    Base URL conventions follow each vendor's SDK: OpenAI-style bases include
    the version (`https://api.openai.com/v1`), Anthropic and Gemini bases do not.
    """
    base = provider.base_url.rstrip("/")
    headers = {"content-type": "application/json", "accept-encoding": "identity"}
    headers.update(provider.extra_headers)
    if stream:
        headers["accept"] = "text/event-stream"
    proto = protocol_of(provider)
    if proto == "openai":
        headers["authorization"] = f"Bearer {api_key}"
        url = f"{base}/chat/completions"
    elif proto == "anthropic":
        headers["x-api-key"] = api_key
        headers.setdefault("anthropic-version", ANTHROPIC_VERSION)
        url = f"{base}/v1/messages"
    else:
        headers["x-goog-api-key"] = api_key
        model = quote(upstream_model, safe="")
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        url = f"{base}/v1beta/models/{model}:{action}"
    if extra:
        headers.update(extra)
    return UpstreamRequest(url=url, headers=headers)
