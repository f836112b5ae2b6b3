"""A provider that echoes our key back, in any form, leaks none of it anywhere.

The mock LLM quotes the key it received (``echo_key=<form>``) in its error
bodies and in the error event of a stream that fails mid-way. For each
provider type and each form, every client body (plain and streamed, in the
provider's own protocol and in OpenAI's), every engine log record and every
telemetry event is searched for the canary: the key, any 8-character piece of
it, and any 8-character piece of its base64, percent-encoded and hex forms.

The mock's streams are re-chunked one event per read, as a network delivers
them (the in-process transport would hand the whole body over at once): so a
mid-stream error arrives after the client already has its first bytes.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

import httpx
import pytest
from starlette.applications import Starlette

from junction_contracts import DeploymentRoute
from junction_engine.app import create_app
from junction_engine.client_keys import hash_key
from junction_engine.settings import EngineSettings
from junction_mockllm.app import create_app as create_mock_app
from junction_mockllm.directives import ECHO_FORMS
from junction_mockllm.faults import echoed
from junction_protocols.redaction import MARK
from tests.engine.conftest import KEY
from tests.support.routes import SECRET, FakeControl, deployment, model_route, route

# distinctive keys in each vendor's shape; `+`, `/` and `=` make their
# percent-encoded forms differ from the keys themselves
CANARIES = {
    "openai": "sk-proj-CANARYq7+Zx/Wm4=Lp9Tr2Kd8Hs5Vn3Bj6Fw",
    "anthropic": "sk-ant-api03-CANARYw5+Yt/Qe8=Ru2Io4Pa6Sd9Fg1Hk",
    "gemini": "AIzaSyCANARYh3+Jk/Lz7=Xc5Vb9Nm2Qw4Er8Ty",
}
UPSTREAM_MODEL = {"openai": "gpt-mock", "anthropic": "claude-mock", "gemini": "gemini-mock"}
BASE_URL = {"openai": "http://mock/v1", "anthropic": "http://mock", "gemini": "http://mock"}
# every fault whose error text may reach a client, and one (badkey) whose text does not
FAULTS = ("400", "429", "503", "badkey", "midstream")
HELLO = "say something"
_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


def traces(key: str) -> set[str]:
    """Every 8-character piece of the key and of its encodings: none may show anywhere."""
    raw = key.encode()
    forms = [key, quote(key, safe=""), quote_plus(key), raw.hex(), raw.hex().upper()]
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + raw).decode()
        # the characters made of the key's bits alone, whatever precedes it in a blob
        core = encoded[-(-pad * 8 // 6) : (pad + len(raw)) * 8 // 6]
        forms += [core, core.replace("+", "-").replace("/", "_")]
    return {form[i : i + 8] for form in forms for i in range(len(form) - 7)}


class EventChunks(httpx.AsyncBaseTransport):
    """Hands each response body over one event per read, as a network would."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        body = await response.aread()
        await response.aclose()
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Pieces(_split_events(body)),
            request=request,
        )


class _Pieces(httpx.AsyncByteStream):
    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces:
            yield piece


def _split_events(body: bytes) -> list[bytes]:
    pieces, at = [], 0
    for end in _EVENT_END.finditer(body):
        pieces.append(body[at : end.end()])
        at = end.end()
    if at < len(body):
        pieces.append(body[at:])
    return pieces or [b""]


@dataclass
class Canary:
    client: httpx.AsyncClient
    mock: httpx.AsyncClient
    control: FakeControl
    app: Starlette


def _clients(ptype: str) -> tuple[str, ...]:
    """The provider's own protocol, then OpenAI's (the translated path)."""
    return tuple(dict.fromkeys((ptype, "openai")))


def _model(fault: str, protocol: str, stream: bool) -> str:
    # one model, deployment and credential per call: a fault cools only its own
    return f"m-{fault}-{protocol}-{'stream' if stream else 'plain'}"


def _deployment(ptype: str, fault: str, form: str, name: str) -> DeploymentRoute:
    upstream = f"{UPSTREAM_MODEL[ptype]}+fault={fault}+echo_key={form}"
    return deployment(
        upstream, key=CANARIES[ptype], ptype=ptype, base_url=BASE_URL[ptype], id=f"dep-{name}"
    )


@asynccontextmanager
async def canary_engine(ptype: str, form: str) -> AsyncIterator[Canary]:
    mock_app = create_mock_app()
    names = [
        (fault, _model(fault, protocol, stream))
        for fault in FAULTS
        for protocol in _clients(ptype)
        for stream in (False, True)
    ]
    models = [
        model_route(name=name, deployments=(_deployment(ptype, fault, form, name),))
        for fault, name in names
    ]
    control = FakeControl({hash_key(KEY): route(*models)})
    settings = EngineSettings(
        internal_secret=SECRET, control_url="http://control", first_byte_timeout=2.0
    )
    app = create_app(
        settings,
        upstream_transport=EventChunks(httpx.ASGITransport(app=mock_app)),
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
        yield Canary(client=client, mock=mock, control=control, app=app)


async def _call(
    client: httpx.AsyncClient, protocol: str, model: str, *, stream: bool
) -> httpx.Response:
    if protocol == "openai":
        body = {"model": model, "messages": [{"role": "user", "content": HELLO}], "stream": stream}
        return await client.post("/v1/chat/completions", json=body)
    if protocol == "anthropic":
        body = {
            "model": model,
            "max_tokens": 32,
            "messages": [{"role": "user", "content": HELLO}],
            "stream": stream,
        }
        return await client.post(
            "/v1/messages", json=body, headers={"anthropic-version": "2023-06-01"}
        )
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    gemini = {"contents": [{"role": "user", "parts": [{"text": HELLO}]}]}
    return await client.post(f"/v1beta/models/{model}:{method}", json=gemini)


async def _echo_from_mock(mock: httpx.AsyncClient, ptype: str, form: str) -> str:
    """What the mock answers a direct caller holding the canary: the echo is really there."""
    key = CANARIES[ptype]
    model = f"{UPSTREAM_MODEL[ptype]}+fault=400+echo_key={form}"
    if ptype == "openai":
        resp = await mock.post(
            "/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": HELLO}]},
            headers={"authorization": f"Bearer {key}"},
        )
    elif ptype == "anthropic":
        resp = await mock.post(
            "/v1/messages",
            json={"model": model, "max_tokens": 8, "messages": [{"role": "user", "content": "x"}]},
            headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
        )
    else:
        resp = await mock.post(
            f"/v1beta/models/{model}:generateContent",
            json={"contents": [{"role": "user", "parts": [{"text": "x"}]}]},
            headers={"x-goog-api-key": key},
        )
    assert resp.status_code == 400
    return resp.text


def _log_text(caplog: pytest.LogCaptureFixture) -> str:
    lines = []
    for record in caplog.records:
        lines.append(record.getMessage())
        if record.exc_info:
            lines.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(lines)


@pytest.mark.parametrize("form", ECHO_FORMS)
@pytest.mark.parametrize("ptype", ["openai", "anthropic", "gemini"])
async def test_a_provider_echoing_the_key_leaks_no_trace_of_it(
    ptype: str, form: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = CANARIES[ptype]
    bodies: dict[tuple[str, str, bool], str] = {}
    async with canary_engine(ptype, form) as canary:
        upstream_echo = await _echo_from_mock(canary.mock, ptype, form)
        for protocol in _clients(ptype):
            for fault in FAULTS:
                for stream in (False, True):
                    model = _model(fault, protocol, stream)
                    resp = await _call(canary.client, protocol, model, stream=stream)
                    assert resp.status_code != 500, resp.text
                    bodies[(protocol, fault, stream)] = resp.text
        await canary.app.state.engine.telemetry.flush()
        telemetry = json.dumps(canary.control.events)

    # the mock did quote the key, in the form asked for
    assert echoed(form, key) in upstream_echo
    haystack = "\n".join([*bodies.values(), _log_text(caplog), telemetry])
    assert sorted(t for t in traces(key) if t in haystack) == []
    # the provider's words reached the clients, with the key taken out of them
    said = f"The request carried the key {MARK}"
    for protocol in _clients(ptype):
        for fault in ("400", "429", "503"):
            for stream in (False, True):
                assert said in bodies[(protocol, fault, stream)], (protocol, fault, stream)
        midstream = bodies[(protocol, "midstream", True)]
        assert "Partial answer" in midstream  # the client had its first bytes...
        assert said in midstream  # ...and then the provider's error, redacted
    assert telemetry.count('"kind": "finished"') == len(bodies)
