"""One Attempt owns one upstream exchange: released and recorded exactly once, whatever happens.

No mock LLM here: a scripted Upstream hands back replies chunk by chunk,
so each path (answer, refusal, failover, timeout, a stream that ends, a
stream the client leaves) is pinned on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from starlette.responses import Response

from junction_contracts.sealing import derive_sealing_key
from junction_engine.attempt import Attempt, Upstreams
from junction_engine.calls import CallRecord, ClientCall, Outcome
from junction_engine.errors import GatewayError, TryNext
from junction_engine.json_body import parse_object
from junction_engine.responses import StreamBody
from junction_engine.routing import HealthBoard
from junction_engine.sealed_keys import OpenedKeys
from junction_engine.settings import EngineSettings
from junction_engine.upstream import Reply, UpstreamBroken, UpstreamUnreachable
from junction_protocols.convert import get_converter
from tests.support.routes import SECRET, deployment, model_route, route

PLAIN = (
    b'{"id":"c","object":"chat.completion","created":1,"model":"up","choices":[{"index":0,'
    b'"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}}'
)
DELTA = (
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"up",'
    b'"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}\n\n'
)
END = (
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"up",'
    b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"up","choices":[],'
    b'"usage":{"prompt_tokens":4,"completion_tokens":3,"total_tokens":7}}\n\ndata: [DONE]\n\n'
)


@dataclass
class ScriptedReply:
    status: int
    chunks: list[bytes | BaseException]
    headers: dict[str, str] = field(default_factory=dict)
    closed: int = 0
    gate: asyncio.Event | None = None  # when set, each chunk waits for it

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    async def read(self, cap: int | None = None) -> bytes:
        out = b""
        while piece := await self.chunk():
            out += piece
        return out if cap is None else out[:cap]

    async def chunk(self) -> bytes:
        if self.gate is not None:
            await self.gate.wait()
        if not self.chunks:
            return b""
        item = self.chunks.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    async def close(self) -> None:
        self.closed += 1


@dataclass
class ScriptedUpstream:
    reply: ScriptedReply | BaseException
    hang: bool = False
    sent: list[bytes] = field(default_factory=list)

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> Reply:
        self.sent.append(body)
        if self.hang:
            await asyncio.sleep(3600)
        if isinstance(self.reply, BaseException):
            raise self.reply
        return self.reply

    async def aclose(self) -> None:
        pass


def _attempt(
    upstream: ScriptedUpstream, *, stream: bool = False, first_byte: float = 5.0
) -> tuple[Attempt, HealthBoard, list[CallRecord]]:
    dep = deployment("up", key="sk-provider-secret-0000", base_url="http://provider/v1")
    model = model_route(name="gpt", deployments=(dep,))
    body = parse_object(b'{"model":"gpt","messages":[{"role":"user","content":"hi"}]}')
    call = ClientCall(client="openai", route=route(model), model=model, body=body, stream=stream)
    board = HealthBoard()
    settings = EngineSettings(internal_secret=SECRET, first_byte_timeout=first_byte)
    ups = Upstreams(upstream, board, settings, OpenedKeys(derive_sealing_key(SECRET)))
    records: list[CallRecord] = []
    outcome = Outcome(call, records.append)
    converter = get_converter("openai", "openai")
    attempt = Attempt(call, dep, dep.credentials[0], "openai", converter, 1, outcome, ups)
    return attempt, board, records


async def _drain(response: Response) -> bytes:
    assert isinstance(response, StreamBody)
    out = b""
    async for piece in response.body_iterator:
        out += piece
    return out


async def test_a_plain_answer_is_released_and_recorded_once() -> None:
    reply = ScriptedReply(200, [PLAIN[:40], PLAIN[40:]])
    attempt, board, records = _attempt(ScriptedUpstream(reply))
    response = await attempt.run(b"{}")
    assert response.body == PLAIN
    assert reply.closed == 1
    assert board.inflight == {}
    [record] = records
    assert (record.status, record.usage.total_tokens, record.attempts) == ("success", 6, 1)


async def test_a_provider_failure_is_a_verdict_and_records_nothing() -> None:
    reply = ScriptedReply(503, [b'{"error":{"message":"sk-provider-secret-0000 overloaded"}}'])
    attempt, board, records = _attempt(ScriptedUpstream(reply))
    with pytest.raises(TryNext) as caught:
        await attempt.run(b"{}")
    assert caught.value.deployment_down
    assert "sk-provider-secret" not in caught.value.error.message
    assert reply.closed == 1
    assert board.inflight == {}
    assert records == []
    assert board.cooling(attempt.deployment.id)


async def test_a_rejected_request_goes_back_to_the_client_unretried() -> None:
    reply = ScriptedReply(400, [b'{"error":{"message":"bad temperature"}}'])
    attempt, board, _records = _attempt(ScriptedUpstream(reply))
    with pytest.raises(GatewayError) as caught:
        await attempt.run(b"{}")
    assert not isinstance(caught.value, TryNext)
    assert (caught.value.status, caught.value.message) == (400, "bad temperature")
    assert reply.closed == 1
    assert board.inflight == {}
    assert not board.cooling("dep-up-0")


async def test_unreachable_and_timed_out_providers_hold_nothing() -> None:
    attempt, board, _ = _attempt(ScriptedUpstream(UpstreamUnreachable("refused")))
    with pytest.raises(TryNext) as caught:
        await attempt.run(b"{}")
    assert caught.value.error.code == "upstream_unreachable"
    assert board.inflight == {}

    attempt, board, _ = _attempt(
        ScriptedUpstream(ScriptedReply(200, []), hang=True), first_byte=0.05
    )
    with pytest.raises(TryNext) as caught:
        await attempt.run(b"{}")
    assert caught.value.error.code == "upstream_timeout"
    assert board.inflight == {}


async def test_a_stream_is_handed_over_and_released_when_it_ends() -> None:
    reply = ScriptedReply(200, [DELTA, DELTA + END[:30], END[30:]])
    attempt, board, records = _attempt(ScriptedUpstream(reply), stream=True)
    response = await attempt.run(b"{}")
    assert board.inflight == {"dep-up-0": 1}
    assert reply.closed == 0
    out = await _drain(response)
    assert out.startswith(DELTA + DELTA)
    assert out.endswith(b"data: [DONE]\n\n")
    assert b'"usage"' not in out  # the client did not ask for usage
    assert reply.closed == 1
    assert board.inflight == {}
    [record] = records
    assert (record.status, record.usage.output_tokens) == ("success", 3)
    assert record.ttft_ms is not None


async def test_a_stream_that_breaks_before_its_first_byte_is_a_verdict() -> None:
    reply = ScriptedReply(200, [UpstreamBroken("reset")])
    attempt, board, records = _attempt(ScriptedUpstream(reply), stream=True)
    with pytest.raises(TryNext):
        await attempt.run(b"{}")
    assert reply.closed == 1
    assert board.inflight == {}
    assert records == []


async def test_a_stream_that_breaks_after_its_first_byte_ends_with_an_error_event() -> None:
    reply = ScriptedReply(200, [DELTA, UpstreamBroken("reset")])
    attempt, board, records = _attempt(ScriptedUpstream(reply), stream=True)
    out = await _drain(await attempt.run(b"{}"))
    assert out.startswith(DELTA)
    assert b'"error"' in out
    assert b"[DONE]" not in out
    assert reply.closed == 1
    assert board.inflight == {}
    assert [(r.status, r.error_code) for r in records] == [("failed", "upstream_incomplete")]


async def test_a_client_that_leaves_mid_stream_is_recorded_cancelled_once() -> None:
    gate = asyncio.Event()
    reply = ScriptedReply(200, [DELTA, DELTA, DELTA], gate=gate)
    attempt, board, records = _attempt(ScriptedUpstream(reply), stream=True)
    gate.set()
    response = await attempt.run(b"{}")
    assert isinstance(response, StreamBody)
    body: AsyncIterator[bytes] = response.body_iterator
    assert await anext(body) == DELTA
    gate.clear()  # the provider goes quiet; the client leaves
    await body.aclose()  # type: ignore[attr-defined]
    await body.aclose()  # type: ignore[attr-defined]
    assert reply.closed == 1
    assert board.inflight == {}
    assert [(r.status, r.http_status) for r in records] == [("cancelled", 499)]


async def test_a_stream_whose_body_never_starts_is_still_released_and_recorded() -> None:
    reply = ScriptedReply(200, [DELTA, DELTA])
    attempt, board, records = _attempt(ScriptedUpstream(reply), stream=True)
    response = await attempt.run(b"{}")

    async def receive() -> dict[str, object]:
        return {"type": "http.disconnect"}

    async def send(message: object) -> None:
        raise OSError("the client is gone")

    with pytest.raises(OSError, match="gone"):
        await response({"type": "http"}, receive, send)  # type: ignore[arg-type]
    assert reply.closed == 1
    assert board.inflight == {}
    assert [(r.status, r.error_code) for r in records] == [("cancelled", "client_disconnected")]
