"""Two copies of `make run` on other ports, one var directory: each Caddy is its own.

Caddy's admin endpoint follows the public port, so a reload or stop sent to
one copy's Caddy never reaches the other's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import unavailable
from tests.e2e.make_run import READY, Launch, alive, descendants, launch, stack_env
from tests.support.stack import free_port

pytestmark = pytest.mark.e2e


def _caddy(*args: str) -> subprocess.CompletedProcess[str]:
    caddy = shutil.which("caddy")
    if caddy is None:
        unavailable("caddy")
        pytest.skip("caddy")
    return subprocess.run([caddy, *args], capture_output=True, text=True, timeout=30, check=False)


def _admin(run: Launch) -> str:
    sock = Path(run.env["JUNCTION_VAR_DIR"]) / f"caddy-admin-{run.env['JUNCTION_PUBLIC_PORT']}.sock"
    assert sock.is_socket()
    return f"unix/{sock}"


def _config(run: Launch) -> dict[str, Any]:
    transport = httpx.HTTPTransport(uds=_admin(run).removeprefix("unix/"))
    with httpx.Client(transport=transport, base_url="http://caddy") as admin:
        resp = admin.get("/config/", headers={"Host": ""})  # what Caddy allows on a socket
    assert resp.status_code == 200, resp.text
    config: dict[str, Any] = resp.json()
    return config


def _listen(config: dict[str, Any]) -> list[str]:
    listen: list[str] = config["apps"]["http"]["servers"]["srv0"]["listen"]
    return listen


def _serves(base: str) -> bool:
    try:
        return httpx.get(f"{base}/index.html", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.timeout(300)  # two whole stacks start one after the other
def test_two_copies_side_by_side_each_reload_and_stop_reach_only_their_own_caddy(
    tmp_path: Path,
) -> None:
    var = tmp_path / "var"
    first = launch(stack_env(tmp_path / "one", var), tmp_path / "one.log")
    second: Launch | None = None
    try:
        first.wait_for(READY)
        second = launch(stack_env(tmp_path / "two", var), tmp_path / "two.log")
        second.wait_for(READY)
        assert _admin(first) != _admin(second)
        assert _listen(_config(first)) == [f"127.0.0.1:{first.env['JUNCTION_PUBLIC_PORT']}"]
        assert _listen(_config(second)) == [f"127.0.0.1:{second.env['JUNCTION_PUBLIC_PORT']}"]

        # reload the first copy's Caddy onto another port: the second's stays as it was
        moved = free_port()
        config = _config(first)
        config["apps"]["http"]["servers"]["srv0"]["listen"] = [f"127.0.0.1:{moved}"]
        new_config = tmp_path / "moved.json"
        new_config.write_text(json.dumps(config))
        reload = _caddy("reload", "--config", str(new_config), "--address", _admin(first))
        assert reload.returncode == 0, reload.stderr
        deadline = time.monotonic() + 10
        while not _serves(f"http://127.0.0.1:{moved}") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _serves(f"http://127.0.0.1:{moved}")
        assert not _serves(first.base)
        assert _serves(second.base)
        assert _listen(_config(second)) == [f"127.0.0.1:{second.env['JUNCTION_PUBLIC_PORT']}"]

        # stop the first copy's Caddy: that copy shuts down, the second keeps serving
        before = descendants(first.proc.pid)
        stop = _caddy("stop", "--address", _admin(first))
        assert stop.returncode == 0, stop.stderr
        assert first.proc.wait(timeout=40) == 1
        assert "a process stopped; shutting the rest down" in first.text()
        assert [pid for pid in before if alive(pid)] == []
        assert _serves(second.base)
        assert httpx.get(f"{second.base}/v1/models", timeout=5).status_code == 401
        assert second.proc.poll() is None
    finally:
        first.stop()
        if second is not None:
            second.stop()
