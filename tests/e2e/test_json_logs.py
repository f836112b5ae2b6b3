"""Real processes with ``JUNCTION_LOG_FORMAT=json``: every line parses, no line holds a secret.

The engine writes one line per finished call carrying every field an SRE
needs, under the request id the client sent (the same id the client, the
provider and the call record see); the client's key, the provider's key and
the prompt appear in no line of either service.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from junction_engine.call_log import FIELDS
from tests.conftest import unavailable
from tests.e2e.conftest import DEMO_CONFIG
from tests.support.stack import Stack

CANARY_PROMPT = "canary-prompt-e2e-51d0"
HELLO = [{"role": "user", "content": CANARY_PROMPT}]


class JsonLogStack(Stack):
    """The stack, with both services logging JSON lines."""

    def env(self) -> dict[str, str]:
        return super().env() | {"JUNCTION_LOG_FORMAT": "json"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JsonLogStack]:
    if shutil.which("caddy") is None:
        unavailable("caddy")
    workdir = tmp_path_factory.mktemp("jsonlogs")
    s = JsonLogStack(workdir=workdir)
    config = workdir / "junction.yaml"
    config.write_text(DEMO_CONFIG.format(mock=s.mock_url))
    try:
        s.start_mock()
        s.run_cli("migrate")
        s.apply(config)
        s.start_control()
        s.start_engine()
        yield s
    except Exception:
        print(s.logs())
        raise
    finally:
        s.stop()


def _lines(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def _call_line(stack: Stack, request_id: str) -> dict[str, Any]:
    log = stack.procs[f"engine-{stack.engine_ports[0]}"].log
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in _lines(log):
            if line.get("logger") == "junction.engine.calls" and line["request_id"] == request_id:
                return line
        time.sleep(0.1)
    raise AssertionError(f"no call line for {request_id}:\n{log.read_text()}")


def _recorded_request_id(stack: Stack, call_id: str) -> str | None:
    database = stack.workdir / "var" / "junction.db"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with sqlite3.connect(database) as conn:
            found = conn.execute(
                "SELECT request_id FROM model_calls WHERE id = ? AND status != 'processing'",
                (call_id,),
            ).fetchone()
        if found is not None:
            return str(found[0]) if found[0] is not None else None
        time.sleep(0.2)
    raise AssertionError(f"call {call_id} was not recorded")


def test_the_call_line_carries_every_field_under_the_clients_request_id(
    stack: JsonLogStack,
) -> None:
    url = f"http://127.0.0.1:{stack.engine_ports[0]}"
    headers = {"authorization": f"Bearer {stack.demo_token}", "x-request-id": "sre-e2e-1"}
    httpx.delete(f"{stack.mock_url}/_mock/requests")

    answer = httpx.post(
        f"{url}/v1/chat/completions",
        json={"model": "demo", "messages": HELLO, "stream": True},
        headers=headers,
        timeout=30,
    )

    assert answer.status_code == 200, answer.text
    assert answer.headers["x-request-id"] == "sre-e2e-1"
    [sent] = httpx.get(f"{stack.mock_url}/_mock/requests").json()["requests"]
    assert sent["headers"]["x-request-id"] == "sre-e2e-1"
    line = _call_line(stack, "sre-e2e-1")
    assert set(FIELDS) <= line.keys()
    assert (line["level"], line["message"], line["model"]) == ("info", "call finished", "demo")
    assert (line["status"], line["http_status"], line["client_protocol"]) == (
        "success",
        200,
        "openai",
    )
    assert line["token_prefix"]
    assert line["token_prefix"] != stack.demo_token
    assert stack.demo_token.startswith(line["token_prefix"])
    assert line["deployment_id"]
    assert line["provider_id"]
    assert line["tenant_id"]
    assert line["output_tokens"] > 0
    assert line["cost_usd"] > 0
    assert line["attempts"] == 1
    assert line["ttft_ms"] is not None
    assert line["latency_ms"] >= line["ttft_ms"]
    assert _recorded_request_id(stack, line["call_id"]) == "sre-e2e-1"


def test_every_line_of_both_services_parses_and_none_holds_a_key_or_the_prompt(
    stack: JsonLogStack,
) -> None:
    url = f"http://127.0.0.1:{stack.engine_ports[0]}"
    good = {"authorization": f"Bearer {stack.demo_token}"}
    for model in ("demo", "demo-claude", "flaky", "cut"):
        httpx.post(
            f"{url}/v1/chat/completions",
            json={"model": model, "messages": HELLO, "stream": model == "cut"},
            headers=good | {"x-request-id": f"canary-{model}"},
            timeout=30,
        )
    refused = httpx.post(
        f"{url}/v1/chat/completions",
        json={"model": "demo", "messages": HELLO},
        headers={"authorization": "Bearer jk-canary-not-a-key"},
        timeout=30,
    )
    assert refused.status_code == 401
    _call_line(stack, "canary-cut")  # the last call is logged: the lines are all written

    for name in ("control", f"engine-{stack.engine_ports[0]}"):
        text = stack.procs[name].log.read_text()
        lines = _lines(stack.procs[name].log)  # raises on a line that is not JSON
        assert lines, name
        assert all({"ts", "level", "logger", "message"} <= line.keys() for line in lines)
        # casbin's dump of its model and policy is not written at INFO
        assert not [line for line in lines if line["logger"].startswith("casbin")]
        for canary in (stack.demo_token, stack.mock_key, "jk-canary-not-a-key", CANARY_PROMPT):
            assert canary not in text, (name, canary)
