"""The processes under measurement: the real stack plus the minimal proxy, on free ports."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.stack import ROOT, Proc, Stack, free_port

CONFIG = """
tenants:
  - name: bench
    providers:
      - name: mock-openai
        type: openai
        base_url: {mock}/v1
        keys: [{{name: default, value: env:JUNCTION_MOCK_KEY}}]
    models:
      - name: bench
        deployments: [{{provider: mock-openai, model: mock-gpt}}]
      - name: bench-stream
        deployments: [{{provider: mock-openai, model: "mock-gpt+tokens={tokens}"}}]
    tokens:
      - name: bench
        value: env:JUNCTION_DEMO_TOKEN
"""
# the engine runs with its defaults, bar per-request log lines
ENGINE_ENV = {"JUNCTION_LOG_LEVEL": "warning"}


@dataclass
class Deployment:
    """A running stack (mock, control, engines, Caddy) and the proxy in front of the mock."""

    stack: Stack
    proxy_port: int

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    def engine_url(self, index: int = 0) -> str:
        """The URL of engine replica `index`, bypassing Caddy."""
        return f"http://127.0.0.1:{self.stack.engine_ports[index]}"

    def scale_engines(self, replicas: int) -> None:
        """Start engines up to `replicas` and restart Caddy in front of all of them."""
        while len(self.stack.engine_ports) < replicas:
            self.stack.start_engine(extra_env=ENGINE_ENV)
        self.stack.procs["caddy"].stop()
        self.stack.start_caddy()

    def stop(self) -> None:
        """Stop every process, the proxy included."""
        self.stack.stop()


def start(workdir: Path, stream_tokens: int) -> Deployment:
    """Start mock, control, one engine, the proxy and Caddy; apply the bench tenant."""
    stack = Stack(workdir=workdir)
    config = workdir / "junction.yaml"
    config.write_text(CONFIG.format(mock=stack.mock_url, tokens=stream_tokens))
    deployment = Deployment(stack=stack, proxy_port=free_port())
    try:
        stack.start_mock()
        migrated = stack.run_cli("migrate")
        if migrated.returncode != 0:
            raise RuntimeError(f"migrate failed: {migrated.stderr}")
        stack.apply(config)
        stack.start_control()
        stack.start_engine(extra_env=ENGINE_ENV)
        _start_proxy(deployment)
        stack.start_caddy()
    except BaseException:
        print(stack.logs(), file=sys.stderr)
        stack.stop()
        raise
    return deployment


def _start_proxy(deployment: Deployment) -> None:
    stack = deployment.stack
    log = stack.workdir / "proxy.log"
    cmd = [sys.executable, "-m", "tests.bench.proxy", "--port", str(deployment.proxy_port)]
    with log.open("wb") as handle:
        popen = subprocess.Popen(
            [*cmd, "--upstream", stack.mock_url],
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    proc = Proc("proxy", popen, log)
    # registered with the stack so that stack.stop() and stack.logs() cover it
    stack.procs["proxy"] = proc
    stack.wait_http(f"{deployment.proxy_url}/_mock/health", proc)
