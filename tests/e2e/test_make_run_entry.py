"""What `make run` exposes: loopback only by default, and one Server header per answer."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import unavailable
from tests.e2e.make_run import READY, Launch, descendants, launch, listening, stack_env
from tests.support.stack import ROOT, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launch]:
    tmp = tmp_path_factory.mktemp("make-run")
    run = launch(stack_env(tmp), tmp / "run.log")
    try:
        run.wait_for(READY)
        yield run
    finally:
        run.stop()


def test_every_port_the_stack_listens_on_is_on_loopback(stack: Launch) -> None:
    sockets = listening(descendants(stack.proc.pid))
    ports = {
        int(stack.env[name])
        for name in (
            "JUNCTION_PUBLIC_PORT",
            "JUNCTION_ADMIN_PORT",
            "JUNCTION_INTERNAL_PORT",
            "JUNCTION_ENGINE_PORT",
            "JUNCTION_MOCK_PORT",
        )
    }
    # exactly the five services' ports, each on 127.0.0.1: Caddy's own admin
    # endpoint is a socket file, not a TCP port anyone on the machine can reach
    assert sockets == {("127.0.0.1", port) for port in ports}
    admin = (
        Path(stack.env["JUNCTION_VAR_DIR"])
        / f"caddy-admin-{stack.env['JUNCTION_PUBLIC_PORT']}.sock"
    )
    assert admin.is_socket()


@pytest.mark.parametrize(
    "path", ["/v1/models", "/v1beta/models", "/api/v1/auth/me", "/", "/index.html", "/internal/x"]
)
def test_an_answer_through_caddy_has_one_server_header(stack: Launch, path: str) -> None:
    token = (Path(stack.env["JUNCTION_VAR_DIR"]) / "demo.token").read_text().strip()
    resp = httpx.get(f"{stack.base}{path}", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code < 500, resp.text
    assert resp.headers.get_list("server") == ["Caddy"]


def _caddy_alone(tmp_path: Path, env: dict[str, str]) -> set[tuple[str, int]]:
    """Where Caddy listens when it runs the repository's Caddyfile with `env`."""
    caddy = shutil.which("caddy")
    if caddy is None:
        unavailable("caddy")
        return set()
    tmp_path.mkdir()
    port = free_port()
    config = ["run", "--config", str(ROOT / "caddy/Caddyfile"), "--adapter", "caddyfile"]
    proc = subprocess.Popen(
        [caddy, *config],
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "JUNCTION_PUBLIC_PORT": str(port),
            "JUNCTION_CADDY_ADMIN": f"unix/{tmp_path / 'admin.sock'}",
            **env,
        },
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            found = {s for s in listening({proc.pid}) if s[1] == port}
            if found:
                return found
            assert proc.poll() is None, "caddy exited"
            time.sleep(0.1)
        raise AssertionError(f"caddy did not listen on :{port}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_caddy_binds_loopback_unless_public_host_says_otherwise(tmp_path: Path) -> None:
    [(default, _)] = _caddy_alone(tmp_path / "default", {})
    assert default == "127.0.0.1"
    [(opened, _)] = _caddy_alone(tmp_path / "lan", {"JUNCTION_PUBLIC_HOST": "0.0.0.0"})
    assert opened in ("0.0.0.0", "::")  # Go listens on both stacks for 0.0.0.0
