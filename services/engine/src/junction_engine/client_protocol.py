"""Which client protocol a request speaks, where its path alone does not say.

Gemini's API lives under ``/v1beta/`` and, for the ``google-genai`` SDK's
default settings, under ``/v1/`` too: ``/v1/models/{model}:generateContent``
is Gemini's (no other protocol posts to a ``:verb`` path), but ``GET /v1/models``
and ``GET /v1/models/{model}`` are OpenAI's, Anthropic's and Gemini's at
once. The caller's SDK tells them apart by how it presents itself:

- Anthropic's sends ``anthropic-version``;
- Google's send the key as ``x-goog-api-key`` (or ``?key=``) and name
  themselves in ``x-goog-api-client``;
- anything else is answered as OpenAI (``Authorization: Bearer``).

Errors follow the same rule, so an unknown route or method under a Gemini
path is refused in Gemini's error shape.
"""

from __future__ import annotations

from starlette.requests import Request

from junction_engine.providers import Protocol

_GEMINI_HEADERS = ("x-goog-api-key", "x-goog-api-client")


def models_caller(request: Request) -> Protocol:
    """The protocol of a ``GET /v1/models[/...]`` caller: Anthropic, Gemini or OpenAI."""
    headers = request.headers
    if "anthropic-version" in headers:
        return "anthropic"
    if any(h in headers for h in _GEMINI_HEADERS) or "key" in request.query_params:
        return "gemini"
    return "openai"


def speaks_gemini(request: Request) -> bool:
    """Whether a request (any path, any method) is answered in Gemini's shape."""
    path = request.url.path
    if path.startswith("/v1beta/") or path == "/v1beta":
        return True
    if path == "/v1/models" or path.startswith("/v1/models/"):
        if models_caller(request) == "gemini":
            return True
        # models/{model}:generateContent and its kin: only Gemini has such paths, but a GET
        # of a model named with a colon (`llama3:8b`) is an OpenAI or Anthropic retrieve
        return request.method != "GET" and ":" in path.rsplit("/", 1)[-1]
    return False
