"""Model lists: OpenAI and Anthropic share ``GET /v1/models`` (told apart by the
``anthropic-version`` header), Gemini has ``GET /v1beta/models`` and, as its
API serves ``v1`` too, ``GET /v1/models`` for callers that authenticate the
Google way (``x-goog-api-key`` or ``?key=``). ``{path}/{model}`` fetches one.

Gemini's list pages: ``pageSize`` (50 by default, at most 1000), ``pageToken``
and ``nextPageToken`` (absent on the last page).

References: https://platform.openai.com/docs/api-reference/models/list,
https://docs.anthropic.com/en/api/models-list, https://ai.google.dev/api/models
(the ``Model`` resource, ``models.list``, ``models.get``)
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from junction_mockllm.anthropic_api import response_headers
from junction_mockllm.directives import DirectiveError, read_knobs
from junction_mockllm.errors import Provider, error_response
from junction_mockllm.faults import anthropic_key, bearer_key, preflight
from junction_mockllm.settings import MockSettings

CREATED = 1_700_000_000  # a fixed date keeps the listing deterministic


def _openai_model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": CREATED, "owned_by": "junction-mock"}


def _anthropic_model(name: str) -> dict[str, Any]:
    return {
        "type": "model",
        "id": name,
        "display_name": name,
        "created_at": "2023-11-14T22:13:20Z",
    }


_GEMINI_METHODS = ["generateContent", "countTokens", "embedContent", "batchEmbedContents"]


def _gemini_model(name: str) -> dict[str, Any]:
    # the Model resource's fields, in the order the reference lists them
    return {
        "name": f"models/{name}",
        "baseModelId": name,
        "version": "001",
        "displayName": name,
        "description": f"The mock model {name}.",
        "inputTokenLimit": 1_048_576,
        "outputTokenLimit": 65_536,
        "supportedGenerationMethods": list(_GEMINI_METHODS),
        "temperature": 1,
        "maxTemperature": 2,
        "topP": 0.95,
        "topK": 64,
        "thinking": False,
    }


class CatalogEndpoints:
    """The model listings of the three providers."""

    def __init__(self, settings: MockSettings) -> None:
        self.settings = settings

    def routes(self) -> list[Route]:
        """The routes served by this class."""
        return [
            Route("/v1/models", self.list_v1, methods=["GET"]),
            Route("/v1/models/{name:path}", self.get_v1, methods=["GET"]),
            Route("/v1beta/models", self.list_gemini, methods=["GET"]),
            Route("/v1beta/models/{name:path}", self.get_gemini, methods=["GET"]),
        ]

    async def _check(self, request: Request, provider: Provider) -> Response | None:
        if provider == "anthropic":
            headers, key = response_headers(request), anthropic_key(request)
        elif provider == "openai":
            headers, key = {}, bearer_key(request)
        else:
            key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
            headers = {}
        try:
            knobs = read_knobs(None, request.headers, self.settings)
        except DirectiveError as exc:
            return error_response(provider, 400, str(exc), headers=headers)
        return await preflight(request, self.settings, provider, knobs, key, headers)

    @staticmethod
    def _provider(request: Request) -> Provider:
        if "anthropic-version" in request.headers:
            return "anthropic"
        if "x-goog-api-key" in request.headers or "key" in request.query_params:
            return "gemini"
        return "openai"

    async def list_v1(self, request: Request) -> Response:
        """List the models, in OpenAI, Anthropic or Gemini shape."""
        provider = self._provider(request)
        if provider == "gemini":
            return await self.list_gemini(request)
        refusal = await self._check(request, provider)
        if refusal is not None:
            return refusal
        names = list(self.settings.models)
        if provider == "openai":
            return JSONResponse({"object": "list", "data": [_openai_model(n) for n in names]})
        return JSONResponse(
            {
                "data": [_anthropic_model(n) for n in names],
                "has_more": False,
                "first_id": names[0] if names else None,
                "last_id": names[-1] if names else None,
            },
            headers=response_headers(request),
        )

    async def get_v1(self, request: Request) -> Response:
        """Retrieve one model; any name is known (directives included)."""
        provider = self._provider(request)
        if provider == "gemini":
            return await self.get_gemini(request)
        refusal = await self._check(request, provider)
        if refusal is not None:
            return refusal
        name = request.path_params["name"]
        if provider == "openai":
            return JSONResponse(_openai_model(name))
        return JSONResponse(_anthropic_model(name), headers=response_headers(request))

    async def list_gemini(self, request: Request) -> Response:
        """List the models in Gemini shape, a page at a time."""
        refusal = await self._check(request, "gemini")
        if refusal is not None:
            return refusal
        size, token = (
            request.query_params.get("pageSize", "0"),
            request.query_params.get("pageToken", "0"),
        )
        if not size.isdigit() or not token.isdigit():
            return error_response("gemini", 400, "Invalid pageSize or pageToken.")
        start, count = int(token), min(int(size) or 50, 1000)
        names = list(self.settings.models)
        body: dict[str, Any] = {"models": [_gemini_model(n) for n in names[start : start + count]]}
        if start + count < len(names):
            body["nextPageToken"] = str(start + count)
        return JSONResponse(body)

    async def get_gemini(self, request: Request) -> Response:
        """Get one model in Gemini shape; any name is known (directives included)."""
        refusal = await self._check(request, "gemini")
        if refusal is not None:
            return refusal
        name = request.path_params["name"].removeprefix("models/")
        return JSONResponse(_gemini_model(name))
