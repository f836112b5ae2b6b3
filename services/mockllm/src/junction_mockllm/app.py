"""The mock LLM upstream application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware

from junction_mockllm.anthropic_api import AnthropicEndpoints
from junction_mockllm.azure_api import AzureEndpoints
from junction_mockllm.catalog import CatalogEndpoints
from junction_mockllm.completions_api import CompletionsEndpoints
from junction_mockllm.delivery import quiet_deliberate_cuts
from junction_mockllm.gemini_api import GeminiEndpoints
from junction_mockllm.images import ImageEndpoints
from junction_mockllm.openai_api import OpenAIEndpoints
from junction_mockllm.recorder import Recorder, RecordingMiddleware, recorder_routes
from junction_mockllm.responses_api import ResponsesEndpoints
from junction_mockllm.settings import MockSettings


@asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    # fault=cut raises on purpose; keep the server log for real errors
    quiet_deliberate_cuts()
    yield


def create_app(settings: MockSettings | None = None) -> Starlette:
    """Build the mock: OpenAI, Azure OpenAI, Anthropic and Gemini endpoints, ``/_mock/*``."""
    settings = settings or MockSettings()
    recorder = Recorder(settings.recorder_size)
    routes = [
        *OpenAIEndpoints(settings).routes(),
        *ResponsesEndpoints(settings).routes(),
        *CompletionsEndpoints(settings).routes(),
        *ImageEndpoints(settings).routes(),
        *AnthropicEndpoints(settings).routes(),
        *AzureEndpoints(settings).routes(),
        *GeminiEndpoints(settings).routes(),
        *CatalogEndpoints(settings).routes(),
        *recorder_routes(recorder),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RecordingMiddleware, recorder=recorder)],
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.recorder = recorder
    return app
