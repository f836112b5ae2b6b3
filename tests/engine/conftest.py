"""An engine in-process, with the mock LLM as its upstream and no control plane.

Routes come from a FakeControl behind httpx.MockTransport (signatures checked
by the real verifier); the provider is the mock LLM's ASGI app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace

import httpx
import pytest
from starlette.applications import Starlette

from junction_contracts import Route
from junction_engine.app import create_app
from junction_engine.client_keys import hash_key
from junction_engine.redis_lane import RedisLane
from junction_engine.settings import EngineSettings
from junction_mockllm.app import create_app as create_mock_app
from tests.support.routes import SECRET, FakeControl, deployment, model_route, route

KEY = "jk-engine-test-key"
MOCK_KEY = "mock-provider-key"


@dataclass
class EngineHarness:
    client: httpx.AsyncClient
    mock: httpx.AsyncClient
    control: FakeControl
    app: Starlette

    async def upstream_requests(self) -> list[dict[str, object]]:
        found: list[dict[str, object]] = (await self.mock.get("/_mock/requests")).json()["requests"]
        return found


def default_route() -> Route:
    return route(
        model_route(name="gpt", deployments=(deployment("mock-gpt", key=MOCK_KEY),)),
        model_route(
            name="claude",
            deployments=(
                deployment("mock-claude", key=MOCK_KEY, ptype="anthropic", base_url="http://mock"),
            ),
        ),
        model_route(
            name="gem",
            deployments=(
                deployment("mock-gemini", key=MOCK_KEY, ptype="gemini", base_url="http://mock"),
            ),
        ),
        model_route(
            name="flaky",
            deployments=(
                deployment("mock-gpt+fault=500", key=MOCK_KEY, priority=0),
                deployment("mock-backup", key=MOCK_KEY, priority=1),
            ),
        ),
        model_route(
            name="broken",
            deployments=(
                deployment("mock-gpt+fault=500", key=MOCK_KEY, priority=0),
                deployment("mock-gpt+fault=503", key=MOCK_KEY, priority=1),
            ),
        ),
        model_route(
            name="limited",
            deployments=(
                deployment("mock-gpt+fault=429+retry_after=7", key=MOCK_KEY, priority=0),
                deployment("mock-after-limit", key=MOCK_KEY, priority=1),
            ),
        ),
        model_route(
            name="slow",
            deployments=(
                deployment("mock-gpt+fault=timeout", key=MOCK_KEY, priority=0),
                deployment("mock-fast", key=MOCK_KEY, priority=1),
            ),
        ),
        model_route(
            name="badkey",
            deployments=(deployment("mock-gpt", key="invalid-provider-key", priority=0),),
        ),
    )


EngineFactory = Callable[..., "AsyncIterator[EngineHarness]"]


@pytest.fixture
async def engine() -> AsyncIterator[EngineHarness]:
    async with build_engine() as harness:
        yield harness


def build_engine(routes: dict[str, Route] | None = None, **overrides: object):  # type: ignore[no-untyped-def]
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def ctx() -> AsyncIterator[EngineHarness]:
        mock_app = create_mock_app()
        control = FakeControl(routes if routes is not None else {hash_key(KEY): default_route()})
        settings = replace(
            EngineSettings(
                internal_secret=SECRET, control_url="http://control", first_byte_timeout=2.0
            ),
            **overrides,
        )  # type: ignore[arg-type]
        app = create_app(
            settings,
            upstream_transport=httpx.ASGITransport(app=mock_app),
            control_transport=control.transport(),
        )
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://engine",
                headers={"authorization": f"Bearer {KEY}"},
            ) as client,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=mock_app), base_url="http://mock"
            ) as mock,
        ):
            yield EngineHarness(client=client, mock=mock, control=control, app=app)

    return ctx()


@pytest.fixture
async def lane(redis_url: str) -> AsyncIterator[RedisLane]:
    """The engine's pipelined Redis connection, to the test Redis."""
    lane = RedisLane(redis_url)
    yield lane
    await lane.aclose()
