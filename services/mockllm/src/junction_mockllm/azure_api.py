"""Azure OpenAI wire format: deployment-based chat completions and embeddings.

Azure serves the OpenAI API per deployment, under
``/openai/deployments/{deployment}/chat/completions?api-version=...`` (and
``/embeddings``), authenticated by an ``api-key`` header rather than a bearer
token. What differs from the OpenAI endpoints, and is checked here:

- ``api-version`` is required: missing → 404 ``Resource not found`` (as Azure
  answers); one not in `API_VERSIONS` → 404 too.
- the key must come as ``api-key``; a bearer token alone is refused with 401.
- the deployment in the path is the model (its directives, ``+fault=429``,
  work as in the body's model name elsewhere); the body's ``model`` is ignored.
- errors are ``{"error": {"code": "<status or name>", "message"}}``.
- answers carry ``prompt_filter_results`` / ``content_filter_results``; a
  stream opens with a chunk of empty ``choices`` holding the prompt filter
  results, as Azure's do.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from junction_mockllm.delivery import sse_data
from junction_mockllm.directives import DirectiveError, Knobs, read_knobs
from junction_mockllm.errors import error_response
from junction_mockllm.faults import preflight, read_json
from junction_mockllm.openai_api import chat_answer, embeddings_answer
from junction_mockllm.settings import MockSettings

#: the versions the mock accepts (GA and preview names Azure documents)
API_VERSIONS = frozenset(
    {"2024-02-01", "2024-06-01", "2024-10-21", "2025-01-01-preview", "2025-04-01-preview"}
)
_FILTERS = {
    sev: {"filtered": False, "severity": "safe"} for sev in ("hate", "self_harm", "sexual")
} | {"violence": {"filtered": False, "severity": "safe"}}
PROMPT_FILTER_RESULTS = [{"prompt_index": 0, "content_filter_results": _FILTERS}]


def prompt_filter_chunk() -> bytes:
    """The first event of an Azure stream: no choices, the prompt's filter results."""
    chunk = {
        "choices": [],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
        "prompt_filter_results": PROMPT_FILTER_RESULTS,
    }
    return sse_data(chunk)


async def begin_azure(
    request: Request, settings: MockSettings
) -> tuple[dict[str, Any], Knobs, dict[str, str]] | Response:
    """Shared start of the Azure endpoints: api-version, key, deployment, faults."""
    headers = {"x-request-id": str(uuid.uuid4()), "apim-request-id": str(uuid.uuid4())}
    if request.query_params.get("api-version") not in API_VERSIONS:
        return error_response("azure", 404, "Resource not found", headers=headers)
    key = request.headers.get("api-key")
    body = await read_json(request)
    if body is None:
        message = "We could not parse the JSON body of your request."
        return error_response("azure", 400, message, headers=headers, code="BadRequest")
    deployment = request.path_params["deployment"]
    try:
        knobs = read_knobs(deployment, request.headers, settings)
    except DirectiveError as exc:
        return error_response("azure", 400, str(exc), headers=headers, code="BadRequest")
    refusal = await preflight(request, settings, "azure", knobs, key, headers)
    if refusal is not None:
        return refusal
    return body, knobs, headers


class AzureEndpoints:
    """``/openai/deployments/{deployment}/chat/completions`` and ``.../embeddings``."""

    def __init__(self, settings: MockSettings) -> None:
        self.settings = settings

    def routes(self) -> list[Route]:
        """The routes served by this class."""
        base = "/openai/deployments/{deployment}"
        return [
            Route(f"{base}/chat/completions", self.chat, methods=["POST"]),
            Route(f"{base}/embeddings", self.embeddings, methods=["POST"]),
        ]

    async def chat(self, request: Request) -> Response:
        """A chat completion of the deployment, plain or streamed."""
        started = await begin_azure(request, self.settings)
        if isinstance(started, Response):
            return started
        body, knobs, headers = started
        extra = {"prompt_filter_results": PROMPT_FILTER_RESULTS}
        return await chat_answer(
            request, body, knobs, headers, lead=[prompt_filter_chunk()], extra=extra
        )

    async def embeddings(self, request: Request) -> Response:
        """Embeddings of the deployment."""
        started = await begin_azure(request, self.settings)
        if isinstance(started, Response):
            return started
        return await embeddings_answer(request, self.settings, *started)
