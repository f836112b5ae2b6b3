"""Model lists: OpenAI and Anthropic share ``GET /v1/models`` (told apart by the
``anthropic-version`` header), Gemini has ``GET /v1beta/models``.

References: https://platform.openai.com/docs/api-reference/models/list,
https://docs.anthropic.com/en/api/models-list, https://ai.google.dev/api/models
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


def _gemini_model(name: str) -> dict[str, Any]:
    return {
        "name": f"models/{name}",
        "version": "001",
        "displayName": name,
        "inputTokenLimit": 1_048_576,
        "outputTokenLimit": 65_536,
        "supportedGenerationMethods": ["generateContent", "countTokens", "embedContent"],
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
        return "anthropic" if "anthropic-version" in request.headers else "openai"

    async def list_v1(self, request: Request) -> Response:
        """List the models, in OpenAI or Anthropic shape."""
        provider = self._provider(request)
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
        refusal = await self._check(request, provider)
        if refusal is not None:
            return refusal
        name = request.path_params["name"]
        if provider == "openai":
            return JSONResponse(_openai_model(name))
        return JSONResponse(_anthropic_model(name), headers=response_headers(request))

    async def list_gemini(self, request: Request) -> Response:
        """List the models in Gemini shape."""
        refusal = await self._check(request, "gemini")
        if refusal is not None:
            return refusal
        return JSONResponse({"models": [_gemini_model(n) for n in self.settings.models]})
