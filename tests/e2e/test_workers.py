"""`JUNCTION_ENGINE_WORKERS`: several engine processes on one port, each serving calls."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from tests.support.stack import Stack

pytestmark = pytest.mark.e2e


def _workers(pid: int) -> list[int]:
    """The worker processes under `pid` (multiprocessing also starts a resource tracker)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"resource_tracker" not in cmdline:
                found.append(int(child))
    return found


def test_two_workers_share_the_port_and_stop_together(stack: Stack) -> None:
    port = stack.start_engine(extra_env={"JUNCTION_ENGINE_WORKERS": "2"})
    proc = stack.procs[f"engine-{port}"]
    workers = _workers(proc.popen.pid)
    assert len(workers) == 2
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        for n in range(20):
            resp = client.post(
                "/v1/chat/completions",
                headers={"authorization": f"Bearer {stack.demo_token}"},
                json={"model": "demo", "messages": [{"role": "user", "content": f"hi {n}"}]},
            )
            assert resp.status_code == 200, resp.text
            assert resp.json()["choices"][0]["message"]["content"]
    proc.stop(signal.SIGTERM)
    assert proc.popen.returncode == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    stack.engine_ports.remove(port)
