"""The real processes of a Junction deployment, on free ports, for end-to-end tests.

Mock LLM, control plane, N engine replicas and Caddy, each a subprocess with
its own environment; logs go to files under the stack's directory so a
failing test can show them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


@dataclass
class Stack:
    workdir: Path
    database_url: str | None = None
    redis_url: str | None = None
    mock_port: int = field(default_factory=free_port)
    admin_port: int = field(default_factory=free_port)
    internal_port: int = field(default_factory=free_port)
    public_port: int = field(default_factory=free_port)
    caddy_admin_port: int = field(default_factory=free_port)
    mock_key: str = field(default_factory=lambda: "mock-" + secrets.token_hex(8))
    demo_token: str = field(default_factory=lambda: "jk-test-" + secrets.token_urlsafe(24))
    procs: dict[str, Proc] = field(default_factory=dict)
    engine_ports: list[int] = field(default_factory=list)

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.public_port}"

    @property
    def mock_url(self) -> str:
        return f"http://127.0.0.1:{self.mock_port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUNCTION_")}
        env.update(
            {
                "JUNCTION_VAR_DIR": str(self.workdir / "var"),
                "JUNCTION_ADMIN_PORT": str(self.admin_port),
                "JUNCTION_INTERNAL_PORT": str(self.internal_port),
                "JUNCTION_CONTROL_URL": f"http://127.0.0.1:{self.internal_port}",
                "JUNCTION_MOCK_KEY": self.mock_key,
                "JUNCTION_DEMO_TOKEN": self.demo_token,
                "JUNCTION_MOCK_URL": self.mock_url,
                # the mock LLM is on loopback: allowed explicitly, as an operator would
                "JUNCTION_EGRESS_ALLOW": "127.0.0.1/32,::1/128",
            }
        )
        if self.database_url:
            env["JUNCTION_DATABASE_URL"] = self.database_url
        if self.redis_url:
            env["JUNCTION_REDIS_URL"] = self.redis_url
        return env

    def run_cli(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "junction-control"), *args],
            env=env or self.env(),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str]) -> Proc:
        log = self.workdir / f"{name}.log"
        handle = log.open("wb")
        popen = subprocess.Popen(
            cmd, env=env, cwd=self.workdir, stdout=handle, stderr=subprocess.STDOUT
        )
        proc = Proc(name, popen, log)
        self.procs[name] = proc
        return proc

    def wait_http(self, url: str, proc: Proc, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                raise RuntimeError(f"{proc.name} exited early:\n{proc.tail()}")
            try:
                if httpx.get(url, timeout=1).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{proc.name} did not answer {url}:\n{proc.tail()}")

    def start_mock(self) -> None:
        proc = self._spawn(
            "mockllm",
            [
                str(BIN / "junction-mockllm"),
                "--port",
                str(self.mock_port),
                "--api-key",
                self.mock_key,
            ],
            self.env(),
        )
        self.wait_http(f"{self.mock_url}/_mock/health", proc)

    def apply(self, config: Path) -> None:
        done = self.run_cli("apply", "-f", str(config))
        if done.returncode != 0:
            raise RuntimeError(f"apply failed: {done.stderr}")

    def start_control(
        self,
        name: str = "control",
        *,
        admin_port: int | None = None,
        internal_port: int | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> Proc:
        """A `serve` process; another replica gets ports (and a `name`) of its own."""
        internal = internal_port or self.internal_port
        env = self.env() | {
            "JUNCTION_ADMIN_PORT": str(admin_port or self.admin_port),
            "JUNCTION_INTERNAL_PORT": str(internal),
        }
        proc = self._spawn(name, [str(BIN / "junction-control"), "serve"], env | (extra_env or {}))
        self.wait_http(f"http://127.0.0.1:{internal}/healthz", proc)
        return proc

    def start_engine(self, port: int | None = None, extra_env: dict[str, str] | None = None) -> int:
        port = port or free_port()
        env = self.env() | {"JUNCTION_ENGINE_PORT": str(port)} | (extra_env or {})
        proc = self._spawn(f"engine-{port}", [str(BIN / "junction-engine")], env)
        self.wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        if port not in self.engine_ports:
            self.engine_ports.append(port)
        return port

    def start_caddy(self, extra_env: dict[str, str] | None = None) -> None:
        caddy = shutil.which("caddy")
        if caddy is None:
            raise RuntimeError("caddy is not installed")
        env = (
            self.env()
            | {
                "JUNCTION_PUBLIC_PORT": str(self.public_port),
                "JUNCTION_ENGINE_UPSTREAMS": " ".join(f"127.0.0.1:{p}" for p in self.engine_ports),
                "JUNCTION_ADMIN_UPSTREAM": f"127.0.0.1:{self.admin_port}",
                "JUNCTION_CADDY_ADMIN": f"127.0.0.1:{self.caddy_admin_port}",
                "JUNCTION_CONSOLE_DIR": str(ROOT / "services/console"),
                "XDG_DATA_HOME": str(self.workdir / "caddy-data"),
                "XDG_CONFIG_HOME": str(self.workdir / "caddy-config"),
            }
            | (extra_env or {})
        )
        proc = self._spawn(
            "caddy",
            [caddy, "run", "--config", str(ROOT / "caddy/Caddyfile"), "--adapter", "caddyfile"],
            env,
        )
        self.wait_http(f"{self.public_url}/", proc)

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.tail()}" for p in self.procs.values())
