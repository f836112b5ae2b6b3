"""`junction-control serve`: both APIs in one process, stopped cleanly by SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for(url: str, deadline: float) -> httpx.Response:
    while True:
        try:
            return httpx.get(url, timeout=1)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_serve_runs_both_apis_and_stops_on_sigterm(tmp_path: Path) -> None:
    admin_port, internal_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "JUNCTION_VAR_DIR": str(tmp_path / "var"),
        "JUNCTION_ADMIN_PORT": str(admin_port),
        "JUNCTION_INTERNAL_PORT": str(internal_port),
        "JUNCTION_LOG_LEVEL": "warning",
    }
    env.pop("JUNCTION_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "junction_control", "serve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        admin = _wait_for(f"http://127.0.0.1:{admin_port}/api/v1/health", deadline)
        internal = _wait_for(f"http://127.0.0.1:{internal_port}/healthz", deadline)
        unsigned = httpx.post(
            f"http://127.0.0.1:{internal_port}/internal/v1/route/resolve", json={}, timeout=5
        )
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)

    assert admin.json() == {"status": "ok"}
    assert internal.json() == {"status": "ok"}
    assert unsigned.status_code == 401
    assert process.returncode == 0, output.decode()
    assert (tmp_path / "var" / "junction.db").exists()
