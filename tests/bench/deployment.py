"""The processes under measurement, each pinned to its core, on free ports.

Core 0 holds the server under test: the floor proxies, the engines and
Caddy (each idles while another is measured). Core 1 holds what drives and
answers it: wrk, the fake upstream, and the control plane, which is not the
server under test (its cost is measured apart, per ingested call). Redis, when
used, is the machine's own server and runs wherever the kernel puts it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.bench import cells
from tests.bench.cells import Kind, Target
from tests.bench.cores import DRIVER_CORE, SERVER_CORE, pinned
from tests.support.stack import BIN, ROOT, Proc, Stack, free_port

REDIS_URL = "redis://127.0.0.1:6379/0"

CONFIG = """
tenants:
  - name: bench
    providers:
      - name: fake-openai
        type: openai
        base_url: {upstream}/v1
        keys: [{{name: default, value: env:JUNCTION_MOCK_KEY}}]
      - name: fake-anthropic
        type: anthropic
        base_url: {upstream}
        keys: [{{name: default, value: env:JUNCTION_MOCK_KEY}}]
    models:
      - name: {gateway}
        pricing: {{input_per_mtok: 0.5, output_per_mtok: 1.5}}
        deployments: [{{provider: fake-openai, model: {upstream_model}}}]
      - name: {cross}
        pricing: {{input_per_mtok: 0.5, output_per_mtok: 1.5}}
        deployments: [{{provider: fake-anthropic, model: {upstream_model}}}]
      - name: {slow}
        pricing: {{input_per_mtok: 0.5, output_per_mtok: 1.5}}
        deployments: [{{provider: fake-openai, model: {slow_model}}}]
    tokens:
      - name: bench
        value: env:JUNCTION_DEMO_TOKEN
        # limits far above any rate reached here: every request takes the
        # rate-limit path, none is refused
        rpm: 1000000000
        tpm: 2000000000
"""
# the engine runs with its defaults, bar per-request log lines
ENGINE_ENV = {"JUNCTION_LOG_LEVEL": "warning"}
# "engine+log": the same with its per-call line, at INFO in JSON as an operator runs it
CALL_LOG_ENV = {
    "JUNCTION_LOG_LEVEL": "info",
    "JUNCTION_LOG_FORMAT": "json",
    "JUNCTION_CALL_LOG": "on",
}


@dataclass
class Deployment:
    """The running processes and where to reach them."""

    stack: Stack
    urls: dict[str, str] = field(default_factory=dict)

    def pid(self, name: str) -> int:
        """The process id of the process `name`."""
        return self.stack.procs[name].popen.pid

    @property
    def control_pid(self) -> int:
        """The control plane's process (both its APIs and its background jobs)."""
        return self.pid("control")

    def target(self, name: str, url: str, kind: Kind, *procs: str, pinned: bool = True) -> Target:
        """A target served by the processes `procs` (their CPU, memory and logs are its own)."""
        key = self.stack.mock_key if kind != "gateway" else self.stack.demo_token
        return Target(
            name,
            self.urls[url],
            key,
            kind,
            tuple(self.pid(p) for p in procs),
            pinned=pinned,
            logs=tuple(self.stack.procs[p].log for p in procs),
        )

    def targets(self) -> list[Target]:
        """Every target of the main cells, in the order they take turns."""
        return [
            self.target("direct", "upstream", "upstream", "upstream"),
            self.target("floor-aiohttp", "floor", "floor", "floor"),
            self.target("floor-httpx", "proxy", "floor", "proxy"),
            self.target("engine", "engine", "gateway", "engine"),
            self.target("engine+redis", "engine-redis", "gateway", "engine-redis"),
            self.target("engine+log", "engine-log", "gateway", "engine-log"),
            self.target("caddy>engine", "caddy", "gateway", "caddy", "engine"),
        ]

    def spawn(
        self,
        name: str,
        cmd: list[str],
        env: dict[str, str],
        cores: str | None,
        *,
        driver: bool = False,
    ) -> Proc:
        """Start `cmd` pinned to `cores` (None: anywhere), logging to the stack's directory."""
        log = self.stack.workdir / f"{name}.log"
        with log.open("wb") as handle:
            popen = subprocess.Popen(
                pinned(cmd, cores, driver=driver),
                env=env,
                cwd=ROOT,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        proc = Proc(name, popen, log)
        # registered with the stack so that stack.stop() and stack.logs() cover it
        self.stack.procs[name] = proc
        return proc

    def start_engine(self, name: str, *, cores: str | None, extra: dict[str, str]) -> str:
        """Start one engine process; returns its URL once it answers."""
        port = free_port()
        env = self.stack.env() | ENGINE_ENV | {"JUNCTION_ENGINE_PORT": str(port)} | extra
        proc = self.spawn(name, [str(BIN / "junction-engine")], env, cores)
        url = f"http://127.0.0.1:{port}"
        self.stack.wait_http(f"{url}/healthz", proc, timeout=60)
        self.urls[name] = url
        return url

    def stop_process(self, name: str) -> None:
        """Stop one process and forget it."""
        self.stack.procs.pop(name).stop()

    def stop(self) -> None:
        """Stop every process."""
        self.stack.stop()


def _python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def _start_server(
    dep: Deployment, name: str, cmd: list[str], cores: str, health: str, *, driver: bool = False
) -> None:
    port = free_port()
    proc = dep.spawn(name, [*cmd, "--port", str(port)], dict(os.environ), cores, driver=driver)
    url = f"http://127.0.0.1:{port}"
    dep.stack.wait_http(url + health, proc, timeout=60)
    dep.urls[name] = url


def start_caddy(
    dep: Deployment,
    name: str,
    engines: Sequence[str],
    *,
    cores: str,
    port: int | None = None,
    admin_port: int | None = None,
) -> str:
    """Start Caddy as `name` in front of the engine processes `engines`; returns its URL.

    The project's own Caddyfile, with its engines named one by one
    (JUNCTION_ENGINE_UPSTREAMS, static discovery) as `make run` does. Caddy
    starts once every engine is ready: an engine whose first probe of the
    control plane has not come back answers /readyz with 503, and Caddy's
    first health check would keep it out of rotation for a whole interval.
    """
    stack = dep.stack
    for engine in engines:
        stack.wait_http(f"{dep.urls[engine]}/readyz", stack.procs[engine], timeout=60)
    caddy = shutil.which("caddy")
    if caddy is None:
        raise RuntimeError("caddy is not installed (make bench installs it)")
    public = port or free_port()
    upstreams = " ".join(dep.urls[e].removeprefix("http://") for e in engines)
    env = stack.env() | {
        "JUNCTION_PUBLIC_PORT": str(public),
        "JUNCTION_ENGINE_UPSTREAMS": upstreams,
        "JUNCTION_ADMIN_UPSTREAM": f"127.0.0.1:{stack.admin_port}",
        "JUNCTION_CADDY_ADMIN": f"127.0.0.1:{admin_port or free_port()}",
        "JUNCTION_CONSOLE_DIR": str(ROOT / "services/console"),
        "XDG_DATA_HOME": str(stack.workdir / f"{name}-data"),
        "XDG_CONFIG_HOME": str(stack.workdir / f"{name}-config"),
    }
    config = ["run", "--config", str(ROOT / "caddy/Caddyfile"), "--adapter", "caddyfile"]
    proc = dep.spawn(name, [caddy, *config], env, cores)
    url = f"http://127.0.0.1:{public}"
    stack.wait_http(f"{url}/", proc)
    dep.urls[name] = url
    return url


def start(workdir: Path, chunks: int, database_url: str | None) -> Deployment:
    """Start every process of the main cells and apply the bench tenant."""
    stack = Stack(workdir=workdir, database_url=database_url)
    dep = Deployment(stack=stack)
    try:
        up = ["--chunks", str(chunks), "--slow-events", str(cells.SLOW_EVENTS)]
        up += ["--slow-interval-ms", str(cells.SLOW_INTERVAL_MS)]
        upstream_cmd = _python_module("tests.bench.upstream", *up)
        _start_server(dep, "upstream", upstream_cmd, DRIVER_CORE, "/health", driver=True)
        upstream = dep.urls["upstream"]
        config = workdir / "junction.yaml"
        config.write_text(
            CONFIG.format(
                upstream=upstream,
                gateway=cells.GATEWAY_MODEL,
                cross=cells.CROSS_MODEL,
                slow=cells.SLOW_MODEL,
                upstream_model=cells.UPSTREAM_MODEL,
                slow_model=cells.SLOW_UPSTREAM_MODEL,
            )
        )
        migrated = stack.run_cli("migrate")
        if migrated.returncode != 0:
            raise RuntimeError(f"migrate failed: {migrated.stderr}")
        stack.apply(config)
        control_env = stack.env() | {"JUNCTION_LOG_LEVEL": "warning"}
        control = dep.spawn(
            "control", [str(BIN / "junction-control"), "serve"], control_env, DRIVER_CORE
        )
        stack.wait_http(f"http://127.0.0.1:{stack.internal_port}/healthz", control)
        for name, module in (("floor", "tests.bench.floor"), ("proxy", "tests.bench.proxy")):
            cmd = _python_module(module, "--upstream", upstream)
            _start_server(dep, name, cmd, SERVER_CORE, "/health")
        dep.start_engine("engine", cores=SERVER_CORE, extra={})
        dep.start_engine("engine-redis", cores=SERVER_CORE, extra={"JUNCTION_REDIS_URL": REDIS_URL})
        dep.start_engine("engine-log", cores=SERVER_CORE, extra=CALL_LOG_ENV)
        start_caddy(
            dep,
            "caddy",
            ["engine"],
            cores=SERVER_CORE,
            port=stack.public_port,
            admin_port=stack.caddy_admin_port,
        )
    except BaseException:
        print(stack.logs(), file=sys.stderr)
        stack.stop()
        raise
    return dep
