"""Every call is reported to the control plane: started and finished, and nothing is lost."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest

from junction_contracts import Pricing
from junction_contracts.telemetry import CallEvent
from junction_engine.client_keys import hash_key
from junction_engine.control_client import ControlError, RejectedBatch
from junction_engine.telemetry_sink import TelemetrySink
from tests.engine.conftest import KEY, MOCK_KEY, EngineHarness, build_engine
from tests.support.routes import deployment, model_route, route

HELLO = [{"role": "user", "content": "count these four words"}]


def event(n: int, kind: str = "finished") -> CallEvent:
    return CallEvent(
        id=uuid.uuid4().hex,
        kind=kind,
        call_id=f"call-{n}",
        at=0.0,
        tenant_id="t",  # type: ignore[arg-type]
        token_id="k",
        model="m",
        status="success" if kind == "finished" else None,
    )


class Sender:
    def __init__(self) -> None:
        self.down = False
        self.reject = False
        self.batches: list[list[CallEvent]] = []

    async def __call__(self, events: list[CallEvent]) -> None:
        if self.down:
            raise ControlError("down")
        if self.reject:
            raise RejectedBatch("bad")
        self.batches.append(list(events))

    @property
    def call_ids(self) -> list[str]:
        return [e.call_id for b in self.batches for e in b]


async def test_each_call_reports_its_finish_with_usage_and_cost() -> None:
    priced = model_route(
        name="gpt",
        deployments=(deployment("mock-gpt", key=MOCK_KEY),),
        pricing=Pricing(input_per_mtok=2.0, output_per_mtok=10.0),
    )
    async with build_engine({hash_key(KEY): route(priced)}) as e:
        plain = await e.client.post(
            "/v1/chat/completions", json={"model": "gpt", "messages": HELLO}
        )
        streamed = await e.client.post(
            "/v1/chat/completions", json={"model": "gpt", "messages": HELLO, "stream": True}
        )
        assert plain.status_code == streamed.status_code == 200
        await e.app.state.engine.telemetry.flush()
        events = e.control.events
    # both calls ended before the send: their finished events say it all
    kinds = sorted((ev["kind"], ev["stream"]) for ev in events)
    assert kinds == [("finished", False), ("finished", True)]
    assert all(0 < ev["started_at"] <= ev["at"] for ev in events)
    usage = plain.json()["usage"]
    for ev in events:
        if ev["kind"] == "finished":
            assert ev["status"] == "success"
            assert ev["input_tokens"] == usage["prompt_tokens"]
            assert ev["output_tokens"] == usage["completion_tokens"]
            expected = (usage["prompt_tokens"] * 2.0 + usage["completion_tokens"] * 10.0) / 1e6
            assert ev["cost_usd"] == pytest.approx(expected)
            assert ev["deployment_id"] == "dep-mock-gpt-0"
    assert len({ev["id"] for ev in events}) == 2
    assert len({ev["call_id"] for ev in events}) == 2


async def test_a_call_still_running_at_a_send_is_reported_started_then_finished() -> None:
    sender = Sender()
    sink = TelemetrySink(sender, spool_dir=None)
    sink.emit(event(1, "started"))
    sink.emit(event(2, "started"))
    sink.emit(event(1))
    assert sink.pending == 2
    await sink.flush()
    assert sorted((e.call_id, e.kind) for e in sender.batches[0]) == [
        ("call-1", "finished"),
        ("call-2", "started"),
    ]
    sink.emit(event(2))
    await sink.flush()
    assert [(e.call_id, e.kind) for e in sender.batches[1]] == [("call-2", "finished")]


async def test_failed_calls_are_reported_as_failed(engine: EngineHarness) -> None:
    resp = await engine.client.post(
        "/v1/chat/completions", json={"model": "broken", "messages": HELLO}
    )
    assert resp.status_code == 502
    await engine.app.state.engine.telemetry.flush()
    [finished] = [ev for ev in engine.control.events if ev["kind"] == "finished"]
    assert finished["status"] == "failed"
    assert finished["error_code"] == "upstream_error"
    assert finished["attempts"] == 2


async def test_a_call_no_provider_offers_is_reported_refused_at_no_cost(
    engine: EngineHarness,
) -> None:
    resp = await engine.client.post("/v1/embeddings", json={"model": "claude", "input": "a"})
    await engine.app.state.engine.telemetry.flush()

    # the client's answer is what it always was
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "unsupported_operation"
    assert await engine.upstream_requests() == []
    [finished] = [ev for ev in engine.control.events if ev["kind"] == "finished"]
    assert finished["status"] == "refused"
    assert (finished["http_status"], finished["error_code"]) == (400, "unsupported_operation")
    assert (finished["attempts"], finished["cost_usd"], finished["deployment_id"]) == (0, 0.0, None)
    assert CallEvent.from_dict(finished).status == "refused"  # valid under the contract
    metrics = (await engine.client.get("/metrics")).text
    assert (
        'junction_engine_calls_total{model="claude",protocol="openai",status="refused"} 1.0'
        in metrics
    )
    assert 'status="failed"' not in metrics


async def test_a_request_no_provider_protocol_can_take_is_reported_refused(
    engine: EngineHarness,
) -> None:
    resp = await engine.client.post(
        "/v1/messages",
        headers={"anthropic-version": "2023-06-01"},
        json={"model": "gpt", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]},
    )
    await engine.app.state.engine.telemetry.flush()

    assert resp.status_code == 400
    assert await engine.upstream_requests() == []
    [finished] = [ev for ev in engine.control.events if ev["kind"] == "finished"]
    assert (finished["status"], finished["error_code"]) == ("refused", "unsupported_parameter")
    assert (finished["attempts"], finished["cost_usd"]) == (0, 0.0)


async def test_a_call_that_failed_over_then_ran_out_is_failed_not_refused() -> None:
    # the second deployment cannot embed: the one attempt made decides the status
    mixed = model_route(
        name="mixed",
        deployments=(
            deployment("mock-gpt+fault=500", key=MOCK_KEY, priority=0),
            deployment(
                "mock-claude", key=MOCK_KEY, ptype="anthropic", base_url="http://mock", priority=1
            ),
        ),
    )
    async with build_engine({hash_key(KEY): route(mixed)}) as e:
        resp = await e.client.post("/v1/embeddings", json={"model": "mixed", "input": "a"})
        await e.app.state.engine.telemetry.flush()
        events = e.control.events

    assert resp.status_code == 502
    [finished] = [ev for ev in events if ev["kind"] == "finished"]
    assert (finished["status"], finished["attempts"]) == ("failed", 1)


async def test_events_wait_while_control_is_down_then_arrive() -> None:
    sender = Sender()
    sink = TelemetrySink(sender, spool_dir=None, flush_interval=0.01, max_backoff=0.02)
    sink.start()
    sender.down = True
    for n in range(5):
        sink.emit(event(n))
    await asyncio.sleep(0.1)
    assert sink.pending == 5
    sender.down = False
    await asyncio.sleep(0.2)
    await sink.close()
    assert sorted(sender.call_ids) == [f"call-{n}" for n in range(5)]


async def test_past_the_memory_bound_events_spill_to_disk_and_are_replayed(tmp_path: Path) -> None:
    sender = Sender()
    sender.down = True
    sink = TelemetrySink(sender, spool_dir=tmp_path, max_memory=10, batch_size=4)
    for n in range(25):
        sink.emit(event(n))
    assert sink.spooled > 0
    assert sink.pending <= 10
    assert list(tmp_path.glob("*.jsonl"))
    sender.down = False
    await sink.flush()
    await sink._replay_spool()
    assert sorted(sender.call_ids) == sorted(f"call-{n}" for n in range(25))
    assert list(tmp_path.iterdir()) == []


async def test_shutdown_with_control_down_spools_everything(tmp_path: Path) -> None:
    sender = Sender()
    sender.down = True
    sink = TelemetrySink(sender, spool_dir=tmp_path)
    for n in range(3):
        sink.emit(event(n))
    await sink.close(grace=0.1)
    # a new process (another replica, or this one restarted) replays the file
    sender.down = False
    successor = TelemetrySink(sender, spool_dir=tmp_path)
    await successor._replay_spool()
    assert sorted(sender.call_ids) == ["call-0", "call-1", "call-2"]


async def test_an_orphaned_replay_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    dead_pid = 2**22 + 12345  # above the default pid_max: no such process
    assert not Path(f"/proc/{dead_pid}").exists()
    line = '{"id":"e1","kind":"finished","call_id":"c1","at":0,"tenant_id":"t","token_id":"k",'
    line += '"model":"m","status":"success"}\n'
    (tmp_path / f"telemetry-1.jsonl.{dead_pid}.replaying").write_text(line)
    (tmp_path / f"telemetry-2.jsonl.{os.getppid()}.replaying").write_text(line)  # alive: left
    sender = Sender()
    await TelemetrySink(sender, spool_dir=tmp_path)._replay_spool()
    assert sender.call_ids == ["c1"]
    assert [p.name for p in tmp_path.iterdir()] == [f"telemetry-2.jsonl.{os.getppid()}.replaying"]


async def test_a_rejected_batch_is_dropped_not_retried_forever() -> None:
    sender = Sender()
    sender.reject = True
    sink = TelemetrySink(sender, spool_dir=None)
    sink.emit(event(1))
    await sink.flush()
    assert sink.pending == 0
    assert sink.dropped == 1
