"""Each finished call lists its upstream attempts: where each went and how it ended."""

from __future__ import annotations

from typing import Any

from junction_contracts.telemetry import AttemptNote, CallEvent
from junction_engine.client_keys import hash_key
from tests.engine.conftest import KEY, MOCK_KEY, build_engine
from tests.support.routes import deployment, model_route, route

HELLO = [{"role": "user", "content": "hello there"}]


def chain(*upstreams: str) -> Any:
    """A model whose deployments are tried in the order given (one per priority)."""
    return model_route(
        name="chain",
        deployments=tuple(
            deployment(up, key=MOCK_KEY, priority=n, id=f"dep-{n}")
            for n, up in enumerate(upstreams)
        ),
    )


async def finished_of(*upstreams: str, **body: Any) -> tuple[int, dict[str, Any]]:
    async with build_engine({hash_key(KEY): route(chain(*upstreams))}) as e:
        resp = await e.client.post(
            "/v1/chat/completions", json={"model": "chain", "messages": HELLO, **body}
        )
        await resp.aread()
        await e.app.state.engine.telemetry.flush()
        [finished] = [ev for ev in e.control.events if ev["kind"] == "finished"]
    # what the control plane will read: the contract accepts it as sent
    assert CallEvent.from_dict(finished).attempt_log == tuple(
        AttemptNote(**note) for note in finished["attempt_log"]
    )
    return resp.status_code, finished


def summary(finished: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (n["deployment_id"], n["outcome"], n["http_status"], n["error_code"])
        for n in finished["attempt_log"]
    ]


async def test_a_failover_lists_the_failed_attempt_then_the_answer() -> None:
    status, finished = await finished_of("mock-gpt+fault=503", "mock-gpt")

    assert status == 200
    assert summary(finished) == [
        ("dep-0", "failed", 503, "upstream_error"),
        ("dep-1", "answered", 200, None),
    ]
    assert finished["attempts"] == len(finished["attempt_log"]) == 2
    notes = finished["attempt_log"]
    assert {n["provider_id"] for n in notes} == {"prov-openai"}
    assert [n["credential_id"] for n in notes] == ["cred-dep-0", "cred-dep-1"]
    # each attempt took part of the call, none more than all of it
    assert all(0 <= n["latency_ms"] <= finished["latency_ms"] for n in notes)


async def test_a_streamed_answer_is_one_answered_attempt_that_lasts_the_stream() -> None:
    status, finished = await finished_of("mock-gpt", stream=True)

    assert status == 200
    assert summary(finished) == [("dep-0", "answered", 200, None)]
    assert finished["attempt_log"][0]["latency_ms"] >= finished["ttft_ms"]


async def test_a_request_the_provider_refuses_is_a_rejected_attempt() -> None:
    status, finished = await finished_of("mock-gpt+fault=400", "mock-gpt")

    # the provider's verdict on the request goes back to the client: no failover
    assert status == 400
    assert summary(finished) == [("dep-0", "rejected", 400, "upstream_rejected_request")]


async def test_a_stream_that_fails_before_its_first_byte_fails_over() -> None:
    status, finished = await finished_of("mock-gpt+fault=midstream", "mock-gpt", stream=True)

    assert status == 200
    assert summary(finished) == [
        ("dep-0", "failed", 200, "upstream_incomplete"),
        ("dep-1", "answered", 200, None),
    ]


async def test_a_call_refused_before_any_attempt_lists_none() -> None:
    claude = model_route(
        name="claude",
        deployments=(
            deployment("mock-claude", key=MOCK_KEY, ptype="anthropic", base_url="http://mock"),
        ),
    )
    async with build_engine({hash_key(KEY): route(claude)}) as e:
        resp = await e.client.post("/v1/embeddings", json={"model": "claude", "input": "a"})
        await e.app.state.engine.telemetry.flush()
        [finished] = [ev for ev in e.control.events if ev["kind"] == "finished"]

    assert resp.status_code == 400
    assert (finished["status"], finished["attempt_log"]) == ("refused", [])
