"""Telemetry batches over the lean HTTP/1.1 client, to a control plane on a real socket."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest

from junction_engine.control_client import ControlClient, ControlError, RejectedBatch
from junction_engine.settings import EngineSettings
from junction_engine.upstream_http1 import Http1Upstream
from tests.engine.test_telemetry import event
from tests.support.routes import SECRET, FakeControl
from tests.support.served import served
from tests.support.stack import free_port


def _asgi(control: FakeControl, answer: int | None) -> Any:
    """The fake control plane's handler (it checks signatures) behind plain ASGI."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = httpx.Request(
            scope["method"],
            "http://control" + scope["path"],
            headers=[(k.decode(), v.decode()) for k, v in scope["headers"]],
            content=body,
        )
        resp = control._handle(request)
        status = answer or resp.status_code
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": resp.content})

    return app


@contextmanager
def control_at(answer: int | None = None) -> Iterator[tuple[FakeControl, str]]:
    control = FakeControl({})
    with served(_asgi(control, answer)) as url:
        yield control, url


def _lean() -> Http1Upstream:
    settings = EngineSettings(internal_secret=SECRET)
    return Http1Upstream(replace(settings, connect_timeout=1.0, idle_timeout=2.0))


def _client(url: str, lean: Http1Upstream) -> ControlClient:
    return ControlClient(httpx.AsyncClient(), url, SECRET, events=lean)


async def test_batches_arrive_signed_on_the_lean_client() -> None:
    lean = _lean()
    with control_at() as (control, url):
        client = _client(url, lean)
        await client.post_events([event(1), event(2)])
        await client.post_events([event(3)])  # the same kept-alive connection
        await lean.aclose()
    # FakeControl verified each signature; the events are all there, in order
    assert [e["call_id"] for e in control.events] == ["call-1", "call-2", "call-3"]


@pytest.mark.parametrize(("answer", "error"), [(400, RejectedBatch), (503, ControlError)])
async def test_a_refused_batch_raises_what_the_sink_needs(
    answer: int, error: type[Exception]
) -> None:
    lean = _lean()
    with control_at(answer) as (_, url):
        client = _client(url, lean)
        with pytest.raises(error):
            await client.post_events([event(1)])
    await lean.aclose()


async def test_an_unreachable_control_plane_is_a_control_error() -> None:
    lean = _lean()
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(ControlError, match="unreachable"):
        await _client(url, lean).post_events([event(1)])
    await lean.aclose()
