"""The converter registry the engine uses: one ``Converter`` per (client, provider).

All nine pairs are covered:

- identity pairs pass bodies through unchanged (the engine rewrites the
  model) and re-encode stream events faithfully while tracking usage. One
  exception: a streamed OpenAI→OpenAI request always asks upstream for
  ``stream_options.include_usage`` so the call can be billed; the usage chunk
  is then removed from the client stream unless the client asked for it.
- OpenAI ↔ Anthropic use ``openai_anthropic*`` / ``anthropic_openai*``.
- OpenAI ↔ Gemini use ``openai_gemini`` / ``gemini_openai``.
- Anthropic ↔ Gemini compose through the OpenAI shape. Thinking keeps its
  exact budget (``reasoning``) and its signatures (``thinking_blocks``: thinking
  blocks ↔ thought parts with ``thoughtSignature``, both ways). What the
  OpenAI shape cannot hold is lost on the way: ``top_k``, ``cache_control``,
  document citations, server tools, the matched ``stop_sequence``, and
  anything the Gemini translators drop.

Provider errors map to client errors by ``Converter.error``: the message is
extracted and redacted, the status is kept, except that a provider's 401/403
(our provider credential was refused, not the client's key) becomes 502 and
Anthropic's 529 becomes 503 for clients whose protocol has no 529.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import gemini_bridge as gemini
from . import reasoning
from .anthropic_openai import anthropic_request_to_openai, openai_response_to_anthropic
from .anthropic_openai_stream import OpenAIStreamToAnthropic
from .errors import Protocol, error_for, provider_error_message
from .gemini_field_names import camel_case_fields
from .openai_anthropic import anthropic_response_to_openai, openai_request_to_anthropic
from .openai_anthropic_stream import AnthropicStreamToOpenAI
from .stream_stages import (
    AnthropicToOpenAIStage,
    ChunkStage,
    OpenAIToAnthropicStage,
    OpenAIUsageGate,
    Stage,
)
from .streams import StreamConverter
from .usage import Usage, UsageTracker

__all__ = ["Converter", "Protocol", "StreamConverter", "get_converter", "wants_usage"]

Body = dict[str, Any]
PROTOCOLS: tuple[Protocol, ...] = ("openai", "anthropic", "gemini")

_CODES = {
    400: "invalid_request",
    401: "upstream_auth_error",
    402: "insufficient_quota",
    403: "upstream_auth_error",
    407: "upstream_auth_error",
    404: "not_found",
    408: "upstream_timeout",
    413: "request_too_large",
    422: "invalid_request",
    429: "rate_limit_exceeded",
    502: "upstream_error",
    503: "upstream_unavailable",
    504: "upstream_timeout",
    529: "upstream_overloaded",
}


def _with_stream(body: Body, stream: bool) -> Body:
    out = dict(body)
    if stream:
        out["stream"] = True
    else:
        out.pop("stream", None)
        out.pop("stream_options", None)
    return out


def _request(client: Protocol, provider: Protocol, body: Body, model: str, stream: bool) -> Body:
    if client == provider:
        if client == "openai" and stream:
            out = dict(body)
            out["stream"] = True
            out["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
            return out
        return body
    if (client, provider) == ("openai", "anthropic"):
        return _with_stream(openai_request_to_anthropic(body, upstream_model=model), stream)
    if (client, provider) == ("anthropic", "openai"):
        return anthropic_request_to_openai(_with_stream(body, stream), upstream_model=model)
    if (client, provider) == ("openai", "gemini"):
        return gemini.openai_request_to_gemini(body)
    if (client, provider) == ("gemini", "openai"):
        out = gemini.gemini_request_to_openai(body, upstream_model=model, stream=stream)
        if stream:
            out["stream_options"] = {**(out.get("stream_options") or {}), "include_usage": True}
        return out
    if (client, provider) == ("anthropic", "gemini"):
        out = gemini.openai_request_to_gemini(
            anthropic_request_to_openai(
                _with_stream(body, False), upstream_model=model, keep_thinking=True
            )
        )
        budget = reasoning.anthropic_budget_of(body)
        if budget is not None:  # the exact budget, not the effort it was rounded to
            config = out.setdefault("generationConfig", {})
            config["thinkingConfig"] = reasoning.gemini_thinking_config(budget=budget)
        return out
    # gemini client, anthropic provider
    as_openai = gemini.gemini_request_to_openai(
        body, upstream_model=model, stream=stream, keep_thinking=True
    )
    config = camel_case_fields(body).get("generationConfig")
    thinking = config.get("thinkingConfig") if isinstance(config, dict) else None
    budget = reasoning.gemini_budget_of(thinking) if isinstance(thinking, dict) else None
    return _with_stream(
        openai_request_to_anthropic(as_openai, upstream_model=model, thinking_budget=budget),
        stream,
    )


def _response(client: Protocol, provider: Protocol, body: Body, model: str) -> Body:
    if client == provider:
        return body
    as_openai = body
    if provider == "anthropic":
        as_openai = anthropic_response_to_openai(body, model=model)
    elif provider == "gemini":
        as_openai = gemini.gemini_response_to_openai(body, model=model)
    if client == "anthropic":
        return openai_response_to_anthropic(as_openai, model=model)
    if client == "gemini":
        return gemini.openai_response_to_gemini(as_openai, model=model)
    return as_openai


def _stages(
    client: Protocol,
    provider: Protocol,
    model: str,
    include_usage: bool,
    usage: Callable[[], Usage],
) -> list[Stage]:
    # Every translated stream is read into the OpenAI chunk shape first...
    stages: list[Stage] = []
    if provider == "anthropic":
        wants = include_usage if client == "openai" else True
        stages.append(AnthropicToOpenAIStage(AnthropicStreamToOpenAI(model, wants)))
    elif provider == "gemini":
        stages.append(ChunkStage(gemini.gemini_stream_to_openai(model)))
        stages.append(OpenAIUsageGate(include_usage if client == "openai" else True, usage))
    # ...then written out in the client's shape.
    if client == "anthropic":
        stages.append(OpenAIToAnthropicStage(OpenAIStreamToAnthropic(model)))
    elif client == "gemini":
        stages.append(ChunkStage(gemini.openai_stream_to_gemini(model)))
    return stages


@dataclass(frozen=True)
class Converter:
    """Request, response, stream and error conversion for one protocol pair."""

    client: Protocol
    provider: Protocol

    @property
    def identity(self) -> bool:
        """True when client and provider speak the same protocol."""
        return self.client == self.provider

    def request(self, body: Body, *, upstream_model: str, stream: bool) -> Body:
        """The provider request for the client's ``body`` (raises ``ConversionError``)."""
        return _request(self.client, self.provider, body, upstream_model, stream)

    def response(self, body: Body, *, model: str) -> Body:
        """The client response for the provider's non-streamed ``body``."""
        return _response(self.client, self.provider, body, model)

    def stream(
        self, *, model: str, include_usage: bool, scrub: Callable[[str], str] | None = None
    ) -> StreamConverter:
        """A fresh stream converter; ``include_usage`` is the OpenAI client's own ask.

        ``scrub`` removes what a provider's error event may echo of the call's
        credential before the client's error event is written.
        """
        if self.identity:
            return StreamConverter(
                self.client,
                self.provider,
                [],
                passthrough=True,
                drop_usage_chunks=self.client == "openai" and not include_usage,
                scrub=scrub,
            )
        tracker = UsageTracker(self.provider)
        stages = _stages(self.client, self.provider, model, include_usage, lambda: tracker.usage)
        return StreamConverter(self.client, self.provider, stages, tracker=tracker, scrub=scrub)

    def error(self, status: int, body: bytes) -> tuple[int, Body]:
        """A provider error (status, raw body) → (status, body) for the client."""
        message = provider_error_message(self.provider, body)
        if not 400 <= status <= 599:
            status = 502
        code = _CODES.get(status) or ("upstream_error" if status >= 500 else "invalid_request")
        if status in (401, 403, 407):
            status = 502
        if status == 529 and self.client != "anthropic":
            status = 503
        return status, error_for(self.client, status, message, code=code)


def wants_usage(client: Protocol, body: Body) -> bool:
    """Whether a streaming client asked for usage in its stream.

    Only OpenAI clients choose (``stream_options.include_usage``); Anthropic
    and Gemini streams always carry usage.
    """
    if client != "openai":
        return True
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def get_converter(client: Protocol, provider: Protocol) -> Converter:
    """The converter for a client protocol talking to a provider protocol."""
    converter = _CONVERTERS.get((client, provider))
    if converter is None:
        raise ValueError(f"unknown protocol pair {client!r} → {provider!r}")
    return converter


# converters hold no state: one per pair serves every call
_CONVERTERS = {(c, p): Converter(c, p) for c in PROTOCOLS for p in PROTOCOLS}
