"""Outages of the control plane and of an engine lose no call records.

Its own stack (this module stops and restarts processes): calls keep working
from cached routes while the control plane is down, their telemetry waits
(in memory, then on disk when an engine stops), and every call is in the
database once the control plane is back.
"""

from __future__ import annotations

import shutil
import signal
import sqlite3
import time
from collections.abc import Iterator

import openai
import pytest

from tests.conftest import unavailable
from tests.e2e.conftest import DEMO_CONFIG
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

FAST = {"JUNCTION_TELEMETRY_FLUSH_SECONDS": "0.2", "JUNCTION_TELEMETRY_MAX_BACKOFF_SECONDS": "1"}


@pytest.fixture(scope="module")
def outage_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if shutil.which("caddy") is None:
        unavailable("caddy")
    s = Stack(workdir=tmp_path_factory.mktemp("outage"))
    config = s.workdir / "junction.yaml"
    config.write_text(DEMO_CONFIG.format(mock=s.mock_url))
    try:
        s.start_mock()
        s.run_cli("migrate")
        s.apply(config)
        s.start_control()
        s.start_engine(extra_env=FAST)
        s.start_caddy()
        yield s
    except Exception:
        print(s.logs())
        raise
    finally:
        s.stop()


def calls_by_status(stack: Stack) -> dict[str, int]:
    with sqlite3.connect(stack.workdir / "var" / "junction.db") as db:
        rows = db.execute("SELECT status, count(*) FROM model_calls GROUP BY status").fetchall()
    return dict(rows)


def wait_for(stack: Stack, success: int, timeout: float = 30) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = calls_by_status(stack)
        if counts.get("success", 0) >= success and not counts.get("processing"):
            return counts
        time.sleep(0.2)
    raise AssertionError(f"calls recorded: {calls_by_status(stack)}\n{stack.logs()}")


def chat(stack: Stack, n: int, *, stream: bool = False) -> None:
    client = openai.OpenAI(
        base_url=f"{stack.public_url}/v1", api_key=stack.demo_token, max_retries=0
    )
    for _ in range(n):
        if stream:
            text = "".join(
                c.choices[0].delta.content or ""
                for c in client.chat.completions.create(
                    model="demo", messages=[{"role": "user", "content": "hi"}], stream=True
                )
            )
        else:
            reply = client.chat.completions.create(
                model="demo", messages=[{"role": "user", "content": "hi"}]
            )
            text = reply.choices[0].message.content or ""
        assert text.startswith("Hello from mock-gpt")


def test_calls_during_a_control_plane_outage_are_served_and_recorded(outage_stack: Stack) -> None:
    before = calls_by_status(outage_stack).get("success", 0)
    chat(outage_stack, 1)  # the engine now holds the route
    wait_for(outage_stack, before + 1)
    outage_stack.procs["control"].stop()
    chat(outage_stack, 3)
    chat(outage_stack, 2, stream=True)
    outage_stack.start_control()
    assert wait_for(outage_stack, before + 6)["success"] == before + 6


def test_an_engine_stopped_during_an_outage_spools_and_a_new_one_replays(
    outage_stack: Stack,
) -> None:
    before = calls_by_status(outage_stack).get("success", 0)
    chat(outage_stack, 1)
    wait_for(outage_stack, before + 1)
    outage_stack.procs["control"].stop()
    chat(outage_stack, 4)
    [port] = outage_stack.engine_ports
    outage_stack.procs[f"engine-{port}"].stop()  # SIGTERM: queued events go to the spool
    spool = outage_stack.workdir / "var" / "spool"
    assert any(spool.glob("*.jsonl")), "the stopped engine should have spooled its events"
    outage_stack.start_control()
    outage_stack.start_engine(port, extra_env=FAST)  # a fresh process replays the spool
    assert wait_for(outage_stack, before + 5)["success"] == before + 5
    assert not any(spool.glob("*.jsonl"))


def test_sigterm_lets_an_in_flight_stream_finish(outage_stack: Stack) -> None:
    [port] = outage_stack.engine_ports
    engine = outage_stack.procs[f"engine-{port}"]
    client = openai.OpenAI(
        base_url=f"http://127.0.0.1:{port}/v1", api_key=outage_stack.demo_token, max_retries=0
    )
    stream = client.chat.completions.create(
        model="slow-stream", messages=[{"role": "user", "content": "go"}], stream=True
    )
    chunks = iter(stream)
    first = next(chunks)
    assert first.choices
    engine.popen.send_signal(signal.SIGTERM)  # mid-stream: ~1.5 s of chunks still to come
    rest = list(chunks)
    assert rest[-1].choices[0].finish_reason == "stop"
    text = "".join(c.choices[0].delta.content or "" for c in [first, *rest])
    assert len(text.split()) == 60
    # drained, then gone: uvicorn exits by re-raising the signal it handled
    assert engine.popen.wait(timeout=30) in (0, -signal.SIGTERM)
    outage_stack.start_engine(port, extra_env=FAST)
