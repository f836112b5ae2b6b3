"""The real processes behind real Caddy, started once per test session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.support.stack import Stack

DEMO_CONFIG = """
tenants:
  - name: e2e
    providers:
      - name: mock-openai
        type: openai
        base_url: {mock}/v1
        keys: [{{name: default, value: env:JUNCTION_MOCK_KEY}}]
      - name: mock-anthropic
        type: anthropic
        base_url: {mock}
        keys: [{{name: default, value: env:JUNCTION_MOCK_KEY}}]
      - name: mock-gemini
        type: gemini
        base_url: {mock}
        keys: [{{name: default, value: env:JUNCTION_MOCK_KEY}}]
    models:
      - name: demo
        pricing: {{input_per_mtok: 0.5, output_per_mtok: 1.5}}
        deployments: [{{provider: mock-openai, model: mock-gpt}}]
      - name: demo-claude
        pricing: {{input_per_mtok: 0.5, output_per_mtok: 1.5}}
        deployments: [{{provider: mock-anthropic, model: mock-claude}}]
      - name: demo-gemini
        pricing: {{input_per_mtok: 0.5, output_per_mtok: 1.5}}
        deployments: [{{provider: mock-gemini, model: mock-gemini}}]
      - name: flaky
        pricing: {{input_per_mtok: 0.5, output_per_mtok: 1.5}}
        deployments:
          - {{provider: mock-openai, model: "mock-gpt+fault=500", priority: 0}}
          - {{provider: mock-openai, model: mock-gpt-backup, priority: 1}}
      - name: cut
        pricing: {{input_per_mtok: 0.5, output_per_mtok: 1.5}}
        deployments: [{{provider: mock-openai, model: "mock-gpt+fault=cut"}}]
      - name: slow-stream
        pricing: {{input_per_mtok: 0.5, output_per_mtok: 1.5}}
        deployments: [{{provider: mock-openai, model: "mock-gpt+tokens=60+chunk_delay=25"}}]
      - name: cut-claude
        pricing: {{input_per_mtok: 0.5, output_per_mtok: 1.5}}
        deployments: [{{provider: mock-anthropic, model: "mock-claude+fault=cut"}}]
    tokens:
      - name: e2e
        value: env:JUNCTION_DEMO_TOKEN
"""


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if shutil.which("caddy") is None:
        unavailable("caddy")
    workdir = tmp_path_factory.mktemp("stack")
    s = Stack(workdir=workdir)
    config = workdir / "junction.yaml"
    config.write_text(DEMO_CONFIG.format(mock=s.mock_url))
    try:
        s.start_mock()
        s.run_cli("migrate")
        s.apply(config)
        s.start_control()
        s.start_engine()
        s.start_caddy()
        yield s
    except Exception:
        print(s.logs())
        raise
    finally:
        s.stop()


def config_path(stack: Stack) -> Path:
    return stack.workdir / "junction.yaml"
