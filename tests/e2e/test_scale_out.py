"""`ENGINES=3 make run`: three engine replicas behind Caddy, each one its own
upstream; calls are spread over them, and when one dies the calls keep
succeeding on the other two while `make run` keeps serving."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx
import pytest

from tests.conftest import unavailable
from tests.support.stack import ROOT, free_port

pytestmark = pytest.mark.e2e

ENGINES = 3


def _consecutive_free_ports(count: int) -> int:
    """A first port such that it and the `count - 1` after it are all free."""
    for _ in range(50):
        base = free_port()
        if base + count > 65535:
            continue
        socks: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        return base
    raise AssertionError(f"no {count} consecutive free ports found")


def _wait_for(log: Path, proc: subprocess.Popen[bytes], text: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = log.read_text(errors="replace")
        if text in out:
            return out
        if proc.poll() is not None:
            raise AssertionError(f"make run exited early:\n{out}")
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared:\n{log.read_text(errors='replace')}")


def _engine_pids(supervisor: int) -> dict[int, int]:
    """The engines started by `supervisor`, by the port each listens on."""
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(supervisor)], capture_output=True, text=True, check=True
    )
    found: dict[int, int] = {}
    for pid in (int(p) for p in out.stdout.split()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if not any(arg.endswith(b"junction-engine") for arg in cmdline):
            continue
        for item in environ:
            if item.startswith(b"JUNCTION_ENGINE_PORT="):
                found[int(item.split(b"=", 1)[1])] = pid
    return found


def _calls_served(port: int) -> float:
    """Model calls this engine finished, from its own /metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(
        float(m.group(1))
        for m in re.finditer(r"^junction_engine_calls_total\{[^}]*\} (\S+)$", text, re.M)
    )


def _post(client: httpx.Client) -> httpx.Response:
    return client.post(
        "/v1/chat/completions",
        json={"model": "demo", "messages": [{"role": "user", "content": "Hello"}]},
    )


def _chat(client: httpx.Client) -> str:
    resp = _post(client)
    assert resp.status_code == 200, resp.text
    content: str = resp.json()["choices"][0]["message"]["content"]
    return content


def test_three_engines_behind_caddy_and_one_dies(tmp_path: Path) -> None:
    if shutil.which("caddy") is None:
        unavailable("caddy")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUNCTION_")}
    first = _consecutive_free_ports(ENGINES)
    engine_ports = list(range(first, first + ENGINES))
    public, caddy_admin = free_port(), free_port()
    env.update(
        ENGINES=str(ENGINES),
        JUNCTION_ENGINE_PORT=str(first),
        JUNCTION_PUBLIC_PORT=str(public),
        JUNCTION_ADMIN_PORT=str(free_port()),
        JUNCTION_INTERNAL_PORT=str(free_port()),
        JUNCTION_MOCK_PORT=str(free_port()),
        JUNCTION_VAR_DIR=str(tmp_path / "var"),
        JUNCTION_CADDY_ADMIN=f"127.0.0.1:{caddy_admin}",
        JUNCTION_CADDY_HEALTH_INTERVAL="1s",
        XDG_DATA_HOME=str(tmp_path / "xdg-data"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
    )
    log = tmp_path / "run.log"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "deploy/local/run.py")],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    try:
        banner = _wait_for(log, proc, "Ctrl-C stops everything.")
        assert f"engines                {ENGINES} behind Caddy" in banner
        token = re.search(r"demo token\s+(\S+)", banner)
        assert token is not None

        # Caddy holds one upstream per engine, each health-checked on its own
        with urllib.request.urlopen(
            f"http://127.0.0.1:{caddy_admin}/reverse_proxy/upstreams", timeout=5
        ) as resp:
            upstreams = {u["address"] for u in json.load(resp)}
        assert {f"127.0.0.1:{p}" for p in engine_ports} <= upstreams
        pids = _engine_pids(proc.pid)
        assert sorted(pids) == engine_ports
        for port in engine_ports:
            assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200

        headers = {"Authorization": f"Bearer {token.group(1)}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{public}", headers=headers, timeout=30) as c:
            for _ in range(30):
                assert _chat(c) == "Hello from mock-gpt! You said: Hello"
            served = {port: _calls_served(port) for port in engine_ports}
            assert sum(served.values()) >= 30
            # balanced, not pinned: more than one replica took calls
            assert sum(1 for n in served.values() if n > 0) >= 2, served

            victim = engine_ports[1]
            os.killpg(pids[victim], signal.SIGKILL)  # its own session, started by make run
            _wait_for(log, proc, f"the engine on :{victim} stopped; {ENGINES - 1} still serving")
            # the dead replica leaves rotation and the calls keep succeeding on the
            # other two. Caddy up to 2.11 cannot resend a request body after a
            # refused dial (caddyserver/caddy#7546), so the one call that may
            # still reach the dead replica before a health check ejects it can
            # get a 502; every call after it must succeed.
            statuses = [_post(c).status_code for _ in range(20)]
            failed = [i for i, status in enumerate(statuses) if status != 200]
            assert len(failed) <= 1, statuses
            assert all(status in (200, 502) for status in statuses), statuses
            assert statuses[-10:] == [200] * 10, statuses
            survivors = [p for p in engine_ports if p != victim]
            later = sum(_calls_served(p) - served[p] for p in survivors)
            assert later >= statuses.count(200), (served, later)
        assert proc.poll() is None, "make run must keep serving with engines left"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=40)
    assert "a process stopped" not in log.read_text(errors="replace")
