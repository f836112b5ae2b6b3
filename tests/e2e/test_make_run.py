"""`make run` as a user meets it: the printed snippet works as printed, Ctrl-C stops
everything, and a second run reuses the same database and keys."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.support.stack import ROOT, free_port

pytestmark = pytest.mark.e2e


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "deploy/local/run.py")],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )


def _wait_banner(proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "Ctrl-C stops everything." in text:
            return text
        if proc.poll() is not None:
            raise AssertionError(f"make run exited early:\n{text}")
        time.sleep(0.2)
    raise AssertionError(f"no banner:\n{log.read_text(errors='replace')}")


def _children(pid: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    )
    return [int(p) for p in out.stdout.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (ProcessLookupError, OSError):
        return False
    return state != "Z"  # a zombie has exited already


def _stop(proc: subprocess.Popen[bytes]) -> list[int]:
    children = _children(proc.pid)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=40)
    return children


def test_make_run_snippet_works_as_printed_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    if shutil.which("caddy") is None:
        unavailable("caddy")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUNCTION_")}
    ports = {
        name: str(free_port())
        for name in (
            "JUNCTION_PUBLIC_PORT",
            "JUNCTION_ADMIN_PORT",
            "JUNCTION_INTERNAL_PORT",
            "JUNCTION_ENGINE_PORT",
            "JUNCTION_MOCK_PORT",
        )
    }
    env.update(
        ports,
        JUNCTION_VAR_DIR=str(tmp_path / "var"),
        JUNCTION_CADDY_ADMIN=f"127.0.0.1:{free_port()}",
        XDG_DATA_HOME=str(tmp_path / "xdg-data"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
    )
    log = tmp_path / "run.log"
    proc = _start(env, log)
    try:
        banner = _wait_banner(proc, log)
        token = re.search(r"demo token\s+(\S+)", banner)
        assert token is not None
        snippet = "\n".join(
            line[2:]
            for line in banner.split("Python (pip install openai):\n", 1)[1]
            .split("\n\nCtrl-C", 1)[0]
            .splitlines()
        )
        assert f"http://127.0.0.1:{ports['JUNCTION_PUBLIC_PORT']}/v1" in snippet
        out = subprocess.run(
            [sys.executable, "-c", snippet], capture_output=True, text=True, timeout=60, check=False
        )
        assert out.returncode == 0, out.stderr
        # plain, then streamed: the mock's reply both times, through Caddy
        assert out.stdout.splitlines() == ["Hello from mock-gpt! You said: Hello"] * 2
    finally:
        children = _stop(proc)
    assert children, "make run should have started its processes"
    time.sleep(0.5)
    assert [pid for pid in children if _alive(pid)] == []

    # a second run: same token, same database (the demo file applies as unchanged)
    log2 = tmp_path / "run2.log"
    proc = _start(env, log2)
    try:
        banner2 = _wait_banner(proc, log2)
    finally:
        _stop(proc)
    assert token.group(1) in banner2
    assert "unchanged" in banner2
