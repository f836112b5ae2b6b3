"""Two control-plane replicas on PostgreSQL and Redis; one is killed under load.

Its own stack: one `migrate` step, then two `serve` processes (each only
checks the schema) on one database, sharing Redis; an engine lists both in
JUNCTION_CONTROL_URL. While OpenAI SDK clients (no retries of their own)
call through the engine, the replica it is using is SIGKILLed: no call
fails, keys first seen after the kill resolve through the survivor, every
call's usage row arrives (the telemetry failed over too), and the survivor
takes over the background jobs the killed one held.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import openai
import pytest

from tests.conftest import _pg_execute, _with_database
from tests.support.stack import Proc, Stack, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

WARM = ("warm-1", "warm-2")
LATE = ("late-1", "late-2")  # never used before the kill: their first resolve is after it
WORKERS = 6
CONFIG = """
tenants:
  - name: replicas
    providers:
      - name: mock
        type: openai
        base_url: {mock}/v1
        keys: [{{name: default, value: env:JUNCTION_MOCK_KEY}}]
    models:
      - name: demo
        pricing: {{input_per_mtok: 0.5, output_per_mtok: 1.5}}
        deployments: [{{provider: mock, model: "mock-gpt+latency=20"}}]
    tokens:
{tokens}
"""
ENGINE_ENV = {
    # routes are re-resolved every second, so resolves keep flowing during the kill
    "JUNCTION_ROUTE_TTL_SECONDS": "1",
    "JUNCTION_TELEMETRY_FLUSH_SECONDS": "0.2",
    "JUNCTION_TELEMETRY_MAX_BACKOFF_SECONDS": "1",
}


@dataclass
class Replicas:
    stack: Stack
    database_url: str
    first: Proc
    second: Proc
    second_internal: int
    engine: int
    keys: dict[str, str]

    def db(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async def run() -> list[asyncpg.Record]:
            conn = await asyncpg.connect(self.database_url, timeout=5)
            try:
                return list(await conn.fetch(query, *args))
            finally:
                await conn.close()

        return asyncio.run(run())


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, postgres_server_url: str, redis_url: str
) -> Iterator[Replicas]:
    name = f"jt_replicas_{secrets.token_hex(4)}"
    asyncio.run(_pg_execute(postgres_server_url, f'CREATE DATABASE "{name}"'))
    database_url = _with_database(postgres_server_url, name)
    stack = Stack(
        workdir=tmp_path_factory.mktemp("replicas"), database_url=database_url, redis_url=redis_url
    )
    keys = {key: f"jk-replica-{key}-{secrets.token_urlsafe(12)}" for key in WARM + LATE}
    tokens = "".join(f"      - name: {k}\n        value: {v}\n" for k, v in keys.items())
    config = stack.workdir / "replicas.yaml"
    config.write_text(CONFIG.format(mock=stack.mock_url, tokens=tokens.rstrip()))
    serve_env = {"JUNCTION_MIGRATE_ON_START": "false"}  # the one migration step is below
    try:
        stack.start_mock()
        migrated = stack.run_cli("migrate")
        assert migrated.returncode == 0, migrated.stderr
        stack.apply(config)
        first = stack.start_control("control-1", extra_env=serve_env)
        wait_for_metric(stack.internal_port, "junction_control_job_runs_total", 'task="reaper"')
        second_internal = free_port()
        second = stack.start_control(
            "control-2", admin_port=free_port(), internal_port=second_internal, extra_env=serve_env
        )
        urls = f"http://127.0.0.1:{stack.internal_port}, http://127.0.0.1:{second_internal}"
        engine = stack.start_engine(extra_env=ENGINE_ENV | {"JUNCTION_CONTROL_URL": urls})
        yield Replicas(stack, database_url, first, second, second_internal, engine, keys)
    except Exception:
        print(stack.logs())
        raise
    finally:
        stack.stop()
        asyncio.run(
            _pg_execute(postgres_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        )


def metric(port: int, name: str, labels: str) -> float:
    """The sum of `name`'s samples whose labels contain `labels`, from a control's /metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(
        float(m.group(2))
        for m in re.finditer(rf"^{name}\{{([^}}]*)\}} (\S+)$", text, re.M)
        if labels in m.group(1)
    )


def wait_for_metric(port: int, name: str, labels: str, timeout: float = 20) -> float:
    deadline = time.monotonic() + timeout
    while (value := metric(port, name, labels)) <= 0:
        assert time.monotonic() < deadline, f"{name}{{{labels}}} never counted on :{port}"
        time.sleep(0.2)
    return value


class Load:
    """OpenAI SDK clients calling the engine until stopped; late keys join after the kill."""

    def __init__(self, engine: int, keys: dict[str, str]) -> None:
        self.base_url = f"http://127.0.0.1:{engine}/v1"
        self.keys = keys
        self.killed = threading.Event()
        self.stop = threading.Event()
        self.ok = 0
        self.failures: list[str] = []
        self.late_ok = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(WORKERS)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join()

    def wait(self, done: Callable[[], bool], timeout: float = 60) -> None:
        """Until `done()`, or fail (with what failed) past `timeout`."""
        deadline = time.monotonic() + timeout
        while not done() and not self.failures:
            assert time.monotonic() < deadline, f"load stalled at {self.ok} calls"
            time.sleep(0.05)

    def _run(self, worker: int) -> None:
        clients = {
            # no retries: a call the gateway failed must show up as failed
            key: openai.OpenAI(base_url=self.base_url, api_key=value, max_retries=0, timeout=30)
            for key, value in self.keys.items()
        }
        n = 0
        while not self.stop.is_set():
            names = WARM + LATE if self.killed.is_set() else WARM
            key = names[(worker + n) % len(names)]
            n += 1
            try:
                answer = clients[key].chat.completions.create(
                    model="demo", messages=[{"role": "user", "content": f"call {n}"}]
                )
                assert answer.choices[0].message.content
            except (openai.APIError, AssertionError) as exc:
                with self._lock:
                    self.failures.append(f"{key}: {type(exc).__name__}: {exc}")
                continue
            with self._lock:
                self.ok += 1
                self.late_ok += key in LATE


def test_killing_the_control_replica_in_use_fails_no_call(replicas: Replicas) -> None:
    stack = replicas.stack
    # both replicas run the jobs' loops; only the first one makes the passes
    assert wait_for_metric(
        replicas.second_internal, "junction_control_job_runs_total", 'result="elsewhere"'
    )
    assert metric(replicas.second_internal, "junction_control_job_runs_total", 'result="ok"') == 0

    with Load(replicas.engine, replicas.keys) as load:
        load.wait(lambda: load.ok >= 30)
        before = load.ok
        replicas.first.popen.kill()  # SIGKILL: no goodbye, connections just drop
        replicas.first.popen.wait()
        load.killed.set()
        # keys first seen after the kill resolve through the survivor
        load.wait(lambda: load.late_ok >= 20 and load.ok >= before + 60)
    assert load.failures == [], load.failures[:5]

    # every call's usage arrives, through the survivor
    deadline = time.monotonic() + 30
    while True:
        (row,) = replicas.db(
            "SELECT count(*) AS done, count(DISTINCT id) AS ids FROM model_calls "
            "WHERE status = 'success'"
        )
        if row["done"] >= load.ok or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert row["done"] == row["ids"] == load.ok, stack.logs()
    (row,) = replicas.db("SELECT count(*) AS n FROM model_calls WHERE status <> 'success'")
    assert row["n"] == 0
    stored = metric(
        replicas.second_internal, "junction_control_telemetry_batches_total", 'outcome="stored"'
    )
    assert stored > 0
    assert replicas.second.popen.poll() is None

    # the killed replica's database sessions ended with it, and its job locks with
    # them: the survivor takes the jobs over at its next pass (deliveries poll every 2 s)
    deadline = time.monotonic() + 20
    while "this control replica runs the deliveries job" not in replicas.second.log.read_text():
        assert time.monotonic() < deadline, replicas.second.tail()
        time.sleep(0.2)
