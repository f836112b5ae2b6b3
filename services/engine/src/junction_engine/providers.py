"""How to call each provider type: URL, auth headers and wire protocol.

``azure-openai`` speaks the OpenAI protocol on Azure's layout: its base URL is
the resource (``https://{resource}.openai.azure.com``), the route's upstream
model is the deployment name, calls go to
``/openai/deployments/{deployment}/chat/completions?api-version=...`` (and
``/embeddings``, ``/images/generations``) with the key in ``api-key``. The
API version is a setting of the provider, written in its base URL
(``...azure.com?api-version=2025-04-01-preview``); `AZURE_API_VERSION` when
absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, quote, urlsplit

from junction_contracts import ProviderRoute
from junction_contracts.provider_headers import header_problem

Protocol = Literal["openai", "anthropic", "gemini"]
Operation = Literal["chat", "count_tokens", "embeddings", "images", "responses", "completions"]
#: OpenAI's own surfaces that only its API is known to offer: an `openai-compatible`
#: server is reached through a chat call instead (`responses_endpoints`)
_OPENAI_ONLY: frozenset[Operation] = frozenset({"responses", "completions"})

ANTHROPIC_VERSION = "2023-06-01"
#: the latest generally available Azure OpenAI data-plane version
AZURE_API_VERSION = "2024-10-21"

PROTOCOL_OF: dict[str, Protocol] = {
    "openai": "openai",
    "openai-compatible": "openai",
    "azure-openai": "openai",
    "anthropic": "anthropic",
    "gemini": "gemini",
}


@dataclass(slots=True)  # one per attempt: not frozen, which costs several times as much
class UpstreamRequest:
    url: str
    headers: dict[str, str]


def protocol_of(provider: ProviderRoute) -> Protocol:
    return PROTOCOL_OF[provider.type]


def offers(provider: ProviderRoute, operation: Operation) -> bool:
    """Whether the provider type has an endpoint for `operation`."""
    if operation in _OPENAI_ONLY and provider.type != "openai":
        return False
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
    provider_headers: Mapping[str, str] | None = None,
    identity: Mapping[str, str] | None = None,
) -> UpstreamRequest:
    """The URL and headers of one call to `provider` (the body is built elsewhere).

    Base URL conventions follow each vendor's SDK: OpenAI-style bases include
    the version (`https://api.openai.com/v1`), Anthropic and Gemini bases do not.
    `provider_headers` are the provider's extra headers, opened (default: the
    route's plain ones). One the control plane would refuse (a name the
    gateway sets itself or that frames the request, a value with a line
    break) is dropped: a route is not trusted to have been checked. Raises
    Unsupported when the provider type has no such endpoint. `identity` is
    the request's x-request-id and trace context (`request_identity`): the
    gateway's own, so they win over a provider's extra header of that name.
    """
    base = provider.base_url.rstrip("/")
    headers = {"content-type": "application/json", "accept-encoding": "identity"}
    chosen = provider.extra_headers if provider_headers is None else provider_headers
    if chosen:
        for name, value in chosen.items():
            if header_problem(name, value) is None:
                headers[name.lower()] = value  # one entry per name, whatever its case
    if stream:
        headers["accept"] = "text/event-stream"
    proto = protocol_of(provider)
    path = _PATHS[proto].get(operation)
    if path is None or not offers(provider, operation):
        raise Unsupported(f"{provider.type} providers do not offer {operation}")
    if provider.type == "azure-openai":
        headers["api-key"] = api_key
        base, path = azure_url(provider.base_url, upstream_model, path)
    elif proto == "openai":
        headers["authorization"] = f"Bearer {api_key}"
    elif proto == "anthropic":
        headers["x-api-key"] = api_key
        headers.setdefault("anthropic-version", ANTHROPIC_VERSION)
    else:
        headers["x-goog-api-key"] = api_key
        if operation == "chat" and stream:
            path = ":streamGenerateContent?alt=sse"
        path = f"/v1beta/models/{quote(upstream_model, safe='')}{path}"
    if identity:
        headers.update(identity)
    if extra:
        headers.update(extra)
    return UpstreamRequest(url=base + path, headers=headers)


def azure_api_version(base_url: str) -> str:
    """The ``api-version`` an Azure provider's base URL sets, else `AZURE_API_VERSION`."""
    values = parse_qs(urlsplit(base_url).query).get("api-version")
    return values[0] if values and values[0] else AZURE_API_VERSION


def azure_url(base_url: str, deployment: str, path: str) -> tuple[str, str]:
    """(origin, path and query) of an Azure OpenAI call of `deployment` at `path`."""
    parts = urlsplit(base_url)
    prefix = parts.path.rstrip("/")
    if not prefix.endswith("/openai"):
        prefix += "/openai"  # the resource URL, as the portal shows it
    version = quote(azure_api_version(base_url), safe="")
    named = quote(deployment, safe="")
    return (
        f"{parts.scheme}://{parts.netloc}",
        f"{prefix}/deployments/{named}{path}?api-version={version}",
    )


_PATHS: dict[Protocol, dict[Operation, str]] = {
    "openai": {
        "chat": "/chat/completions",
        "embeddings": "/embeddings",
        "images": "/images/generations",
        "responses": "/responses",
        "completions": "/completions",
    },
    "anthropic": {"chat": "/v1/messages", "count_tokens": "/v1/messages/count_tokens"},
    # Gemini embeddings always go as a batch (an embedContent is a batch of one)
    "gemini": {
        "chat": ":generateContent",
        "count_tokens": ":countTokens",
        "embeddings": ":batchEmbedContents",
    },
}
