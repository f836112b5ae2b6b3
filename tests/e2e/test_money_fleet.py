"""Money and limits on a real fleet: budgets, credits, RPM and revocation across replicas.

Its own stack: a control plane on PostgreSQL, three engines sharing Redis and
a fourth with no Redis at all, the mock LLM as provider. Every call costs
exactly $0.02 (20 output tokens at $1,000 per million, input free) and asks
for at most 20 tokens, so each call's hold is its exact cost and a budget of
$0.20 is worth exactly 10 calls: with Redis nothing may pass it, and the
documented bound of the no-Redis case (one engine) is zero too.

Fifty calls are released together through a barrier, each while the mock
holds every answer for 0.4 s, so all fifty are in flight at once: the race a
check of finished spend alone loses.

The same fleet holds a key's RPM limit across the three Redis engines (the
limit admitted, not three times it) and has all three refuse a revoked key
within two seconds, long before their route TTL.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import _pg_execute, _with_database, unavailable
from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

CALL_USD = 0.02
BUDGET_USD = 0.20  # ten calls
BURST = 50
RPM = 12  # requests per minute of the `rpm` key: 36 calls over three replicas admit 12
FAST = {"JUNCTION_TELEMETRY_FLUSH_SECONDS": "0.2", "JUNCTION_TELEMETRY_MAX_BACKOFF_SECONDS": "1"}

CONFIG = """
tenants:
{tenants}
"""
TENANT = """
  - name: {name}
    providers:
      - name: mock
        type: openai
        base_url: {mock}/v1
        keys: [{{name: default, value: env:JUNCTION_MOCK_KEY}}]
    models:
      - name: priced
        pricing: {{input_per_mtok: 0, output_per_mtok: 1000}}
        deployments: [{{provider: mock, model: "mock-gpt+tokens=20+latency=400"}}]
      - name: slow
        pricing: {{input_per_mtok: 0.5, output_per_mtok: 1000}}
        deployments: [{{provider: mock, model: "mock-gpt+tokens=200+chunk_delay=40"}}]
      - name: silent
        pricing: {{input_per_mtok: 0.5, output_per_mtok: 1000}}
        deployments: [{{provider: mock, model: "mock-gpt+fault=nousage"}}]
    tokens:
{tokens}
"""
TOKEN = """      - name: {name}
        value: env:{env}
{extra}"""


@dataclass
class Fleet:
    stack: Stack
    database_url: str
    shared: list[int]  # engines on Redis
    alone: int  # the engine without Redis
    keys: dict[str, str] = field(default_factory=dict)

    def db(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async def run() -> list[asyncpg.Record]:
            conn = await asyncpg.connect(self.database_url, timeout=5)
            try:
                return list(await conn.fetch(query, *args))
            finally:
                await conn.close()

        return asyncio.run(run())

    def cli(self, *args: str) -> str:
        done = self.stack.run_cli(*args)
        assert done.returncode == 0, done.stderr
        return done.stdout


KEYS = {
    # name: (tenant, extra yaml for the token)
    "budget": ("keys", "        budget_usd: 0.2\n"),
    "budget-alone": ("keys", "        budget_usd: 0.2\n"),
    "billing": ("keys", ""),
    "prepaid": ("prepaid", ""),
    "postpaid": ("postpaid", ""),
    "rpm": ("keys", f"        rpm: {RPM}\n"),
    "revoked": ("keys", ""),
}


@pytest.fixture(scope="module")
def fleet(
    tmp_path_factory: pytest.TempPathFactory, postgres_server_url: str, redis_url: str
) -> Iterator[Fleet]:
    if shutil.which("caddy") is None:
        unavailable("caddy")
    name = f"jt_fleet_{secrets.token_hex(4)}"
    asyncio.run(_pg_execute(postgres_server_url, f'CREATE DATABASE "{name}"'))
    database_url = _with_database(postgres_server_url, name)
    stack = Stack(
        workdir=tmp_path_factory.mktemp("fleet"), database_url=database_url, redis_url=redis_url
    )
    values = {key: f"jk-fleet-{key}-{secrets.token_urlsafe(12)}" for key in KEYS}
    envs = {key: f"JUNCTION_TEST_KEY_{i}" for i, key in enumerate(KEYS)}
    tenants = []
    for tenant in ("keys", "prepaid", "postpaid"):
        tokens = "".join(
            TOKEN.format(name=key, env=envs[key], extra=extra)
            for key, (owner, extra) in KEYS.items()
            if owner == tenant
        )
        tenants.append(TENANT.format(name=tenant, mock=stack.mock_url, tokens=tokens.rstrip()))
    config = stack.workdir / "fleet.yaml"
    config.write_text(CONFIG.format(tenants="".join(tenants)))
    try:
        stack.start_mock()
        assert stack.run_cli("migrate").returncode == 0
        applied = stack.run_cli(
            "apply", "-f", str(config), env=stack.env() | {envs[k]: v for k, v in values.items()}
        )
        assert applied.returncode == 0, applied.stderr
        stack.start_control()
        shared = [stack.start_engine(extra_env=FAST) for _ in range(3)]
        # no Redis for this one: its holds are its own
        alone = stack.start_engine(extra_env=FAST | {"JUNCTION_REDIS_URL": ""})
        yield Fleet(stack, database_url, shared, alone, values)
    except Exception:
        print(stack.logs())
        raise
    finally:
        stack.stop()
        asyncio.run(
            _pg_execute(postgres_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        )


def chat_body(model: str = "priced", **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": "count to twenty"}],
        "max_tokens": 20,
        **extra,
    }


def burst(ports: list[int], key: str, n: int = BURST) -> list[httpx.Response]:
    """`n` calls released together (through a barrier), spread over `ports`."""
    barrier = threading.Barrier(n)
    answers: list[httpx.Response | None] = [None] * n

    def one(i: int) -> None:
        url = f"http://127.0.0.1:{ports[i % len(ports)]}/v1/chat/completions"
        with httpx.Client(timeout=30, headers={"authorization": f"Bearer {key}"}) as client:
            client.get(url.replace("/v1/chat/completions", "/healthz"))  # connect first
            barrier.wait()
            answers[i] = client.post(url, json=chat_body())

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(a is not None for a in answers)
    return [a for a in answers if a is not None]


def served_and_refused(answers: list[httpx.Response]) -> tuple[int, int]:
    served = sum(a.status_code == 200 for a in answers)
    refused = [a for a in answers if a.status_code != 200]
    for answer in refused:
        # the OpenAI SDK's own shape for money refusals
        assert answer.status_code == 402, answer.text
        assert answer.json()["error"]["code"] == "insufficient_quota", answer.text
    return served, len(refused)


def recorded(fleet: Fleet, key: str, count: int, timeout: float = 30) -> list[asyncpg.Record]:
    """The finished call rows of `key`, once `count` of them are in."""
    deadline = time.monotonic() + timeout
    rows: list[asyncpg.Record] = []
    while time.monotonic() < deadline:
        rows = fleet.db(
            "SELECT c.* FROM model_calls c JOIN user_tokens t ON t.id = c.token_id "
            "WHERE t.name = $1 AND c.status <> 'processing'",
            key,
        )
        if len(rows) >= count:
            return rows
        time.sleep(0.2)
    raise AssertionError(f"{len(rows)} of {count} calls recorded\n{fleet.stack.logs()}")


def ledger_matches_calls(fleet: Fleet, tenant: str) -> None:
    (row,) = fleet.db(
        "SELECT "
        " (SELECT coalesce(sum(-l.amount_usd), 0) FROM credit_ledger l"
        "  WHERE l.tenant_id = t.id AND l.kind = 'charge') AS charged,"
        " (SELECT coalesce(sum(c.cost_usd), 0) FROM model_calls c"
        "  WHERE c.tenant_id = t.id) AS cost "
        "FROM tenants t WHERE t.name = $1",
        tenant,
    )
    assert row["charged"] == pytest.approx(row["cost"], abs=1e-9)


def test_a_key_budget_holds_across_three_replicas_sharing_redis(fleet: Fleet) -> None:
    served, refused = served_and_refused(burst(fleet.shared, fleet.keys["budget"]))
    assert (served, refused) == (10, BURST - 10)
    rows = recorded(fleet, "budget", 10)
    assert len(rows) == 10
    assert {r["status"] for r in rows} == {"success"}
    assert sum(r["cost_usd"] for r in rows) == pytest.approx(BUDGET_USD, abs=1e-9)
    # the budget is spent: the next call is refused on every replica
    for port in fleet.shared:
        late = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            json=chat_body(),
            headers={"authorization": f"Bearer {fleet.keys['budget']}"},
            timeout=30,
        )
        assert late.status_code == 402, late.text
    ledger_matches_calls(fleet, "keys")


def test_a_key_budget_holds_within_one_engine_without_redis(fleet: Fleet) -> None:
    served, refused = served_and_refused(burst([fleet.alone], fleet.keys["budget-alone"]))
    assert (served, refused) == (10, BURST - 10)
    rows = recorded(fleet, "budget-alone", 10)
    assert sum(r["cost_usd"] for r in rows) == pytest.approx(BUDGET_USD, abs=1e-9)


def test_a_prepaid_balance_holds_and_a_grant_makes_it_servable_again(fleet: Fleet) -> None:
    # the key was never used: its first call resolves a route with this billing
    fleet.cli("credits", "billing", "--tenant", "prepaid", "--mode", "prepaid")
    fleet.cli("credits", "grant", "--tenant", "prepaid", "--amount", str(BUDGET_USD))
    key = fleet.keys["prepaid"]
    served, refused = served_and_refused(burst(fleet.shared, key))
    assert (served, refused) == (10, BURST - 10)
    recorded(fleet, "prepaid", 10)
    wait_for_balance(fleet, "prepaid", 0.0)
    ledger_matches_calls(fleet, "prepaid")
    # out of credit until a grant arrives; then served again within seconds, on every replica
    fleet.cli("credits", "grant", "--tenant", "prepaid", "--amount", "0.1")
    for port in fleet.shared:
        wait_until_served(fleet, key, port=port)


def wait_until_served(fleet: Fleet, key: str, *, port: int) -> None:
    """Poll until `key` is served on `port` (a grant announced)."""
    deadline = time.monotonic() + 10
    answer = None
    while time.monotonic() < deadline:
        answer = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            json=chat_body(),
            headers={"authorization": f"Bearer {key}"},
            timeout=30,
        )
        if answer.status_code == 200:
            return
        assert answer.status_code == 402, answer.text
        time.sleep(0.3)
    raise AssertionError(f"still refused after a grant: {answer and answer.text}")


def wait_for_balance(fleet: Fleet, tenant: str, expected: float) -> None:
    deadline = time.monotonic() + 10
    while True:
        (account,) = fleet.db(
            "SELECT a.balance_usd FROM credit_accounts a JOIN tenants t ON t.id = a.tenant_id "
            "WHERE t.name = $1",
            tenant,
        )
        if account["balance_usd"] == pytest.approx(expected, abs=1e-9):
            return
        assert time.monotonic() < deadline, (tenant, account["balance_usd"], expected)
        time.sleep(0.2)


def test_a_postpaid_tenant_is_served_and_goes_negative(fleet: Fleet) -> None:
    served, refused = served_and_refused(burst(fleet.shared, fleet.keys["postpaid"], n=20))
    assert (served, refused) == (20, 0)
    recorded(fleet, "postpaid", 20)
    wait_for_balance(fleet, "postpaid", -20 * CALL_USD)
    ledger_matches_calls(fleet, "postpaid")


def test_a_client_that_leaves_after_five_chunks_is_billed_for_what_it_got(fleet: Fleet) -> None:
    port = fleet.shared[0]
    events = 0
    with (
        httpx.Client(timeout=30) as client,
        client.stream(
            "POST",
            f"http://127.0.0.1:{port}/v1/chat/completions",
            json=chat_body("slow", stream=True, max_tokens=400),
            headers={"authorization": f"Bearer {fleet.keys['billing']}"},
        ) as stream,
    ):
        assert stream.status_code == 200
        for line in stream.iter_lines():
            if line.startswith("data: "):
                events += 1
                if events == 5:
                    break  # leave: the response is closed here
    (call,) = [r for r in recorded(fleet, "billing", 1) if r["model"] == "slow"]
    assert call["status"] == "cancelled"
    assert call["partial"] is True
    assert call["usage_estimated"] is True
    assert call["input_tokens"] > 0
    assert call["output_tokens"] > 0
    assert call["cost_usd"] > 0
    # far less than the 200 tokens the whole answer would have had
    assert call["output_tokens"] < 200


@pytest.mark.parametrize("stream", [True, False])
def test_a_provider_that_reports_no_usage_is_billed_from_an_estimate(
    fleet: Fleet, stream: bool
) -> None:
    before = len(recorded(fleet, "billing", 0))
    answer = httpx.post(
        f"http://127.0.0.1:{fleet.shared[1]}/v1/chat/completions",
        json=chat_body("silent", stream=stream, max_tokens=400),
        headers={"authorization": f"Bearer {fleet.keys['billing']}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    if stream:
        assert answer.text.rstrip().endswith("data: [DONE]")
        assert '"usage"' not in answer.text  # the client did not ask for it
    rows = recorded(fleet, "billing", before + 1)
    (call,) = [r for r in rows if r["model"] == "silent" and r["stream"] is stream]
    assert call["status"] == "success"
    assert call["usage_estimated"] is True
    assert call["partial"] is False
    assert call["input_tokens"] > 0
    assert call["output_tokens"] > 0
    assert call["cost_usd"] == pytest.approx(
        (call["input_tokens"] * 0.5 + call["output_tokens"] * 1000) / 1e6
    )


def test_an_rpm_limit_holds_across_three_replicas_sharing_redis(fleet: Fleet) -> None:
    # the window is the wall clock's minute (sliding): start clear of its edge, so the
    # whole burst counts in one minute and the limit is exact
    while time.time() % 60 > 55:
        time.sleep(0.5)
    answers = burst(fleet.shared, fleet.keys["rpm"], n=3 * RPM)
    served = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code != 200]
    # per replica, each of the three would admit its own 12: 36
    assert len(served) == RPM
    for answer in refused:
        assert answer.status_code == 429, answer.text
        assert answer.json()["error"]["code"] == "requests_per_minute_exceeded", answer.text
        assert float(answer.headers["retry-after"]) > 0
    recorded(fleet, "rpm", RPM)


def test_a_revoked_key_is_refused_by_all_three_replicas_within_two_seconds(fleet: Fleet) -> None:
    key = fleet.keys["revoked"]

    def models(port: int) -> httpx.Response:
        return httpx.get(
            f"http://127.0.0.1:{port}/v1/models",
            headers={"authorization": f"Bearer {key}"},
            timeout=10,
        )

    # every replica holds the key's route now, fresh for its whole TTL (30 s)
    for port in fleet.shared:
        assert models(port).status_code == 200
    fleet.cli("token", "revoke", "--tenant", "keys", "--name", "revoked")
    revoked_at = time.monotonic()  # committed and announced when the command returns
    refused: dict[int, float] = {}
    while len(refused) < len(fleet.shared) and time.monotonic() - revoked_at < 2.0:
        for port in set(fleet.shared) - set(refused):
            answer = models(port)
            if answer.status_code == 401:
                assert answer.json()["error"]["code"] == "revoked_api_key", answer.text
                refused[port] = time.monotonic() - revoked_at
            else:
                assert answer.status_code == 200, answer.text
        time.sleep(0.05)
    assert sorted(refused) == sorted(fleet.shared), refused
    assert max(refused.values()) < 2.0
