"""Real processes: a stalled control plane, a frozen Redis and a wrong secret.

Its own stack: the engine reaches the control plane through a proxy that can
hold requests back (a control plane as slow as the test wants) and uses a
Redis of this module's own, which the test freezes with SIGSTOP. Routes are
fresh for 1 s so that "past the TTL" takes a moment.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from junction_contracts.cache import ROUTE_KEY_PREFIX
from junction_engine.client_keys import hash_key
from tests.e2e.conftest import DEMO_CONFIG
from tests.support.redis_server import RedisServer, redis_server
from tests.support.stack import Stack
from tests.support.stall_proxy import StallProxy, stall_proxy

pytestmark = pytest.mark.e2e

KEY_NAMES = ("warm-1", "warm-2", "new-1", "new-2", "new-3")


@dataclass
class Deployment:
    stack: Stack
    redis: RedisServer
    proxy: StallProxy
    engine: str
    keys: dict[str, str]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    workdir = tmp_path_factory.mktemp("resilience")
    stack = Stack(workdir=workdir)
    keys = {name: "jk-test-" + secrets.token_urlsafe(24) for name in KEY_NAMES}
    config = workdir / "junction.yaml"
    config.write_text(
        DEMO_CONFIG.format(mock=stack.mock_url)
        + "".join(f"      - name: {name}\n        value: {value}\n" for name, value in keys.items())
    )
    with ExitStack() as running:
        redis = running.enter_context(redis_server(workdir))
        try:
            stack.start_mock()
            stack.run_cli("migrate")
            stack.apply(config)
            stack.start_control()
            proxy = running.enter_context(stall_proxy(stack.internal_port))
            running.callback(stack.stop)  # engines first, while the proxy still runs
            port = stack.start_engine(
                extra_env={
                    "JUNCTION_CONTROL_URL": proxy.url,
                    "JUNCTION_REDIS_URL": redis.url,
                    "JUNCTION_ROUTE_TTL_SECONDS": "1",
                    "JUNCTION_REDIS_TIMEOUT_MS": "100",
                }
            )
        except Exception:
            print(stack.logs())
            stack.stop()
            raise
        yield Deployment(stack, redis, proxy, f"http://127.0.0.1:{port}", keys)


def chat(url: str, key: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "demo", "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )


def answered(url: str, key: str) -> None:
    resp = chat(url, key)
    assert resp.status_code == 200, resp.text
    assert resp.json()["choices"][0]["message"]["content"].startswith("Hello from mock-gpt")


def readyz(url: str) -> tuple[int, dict[str, Any]]:
    resp = httpx.get(f"{url}/readyz", timeout=10)
    return resp.status_code, resp.json()


def wait_until_ready(url: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status, body = readyz(url)
        if body["status"] == "ready" or time.monotonic() > deadline:
            assert (status, body["status"]) == (200, "ready"), body
            return body
        time.sleep(0.1)


def resolves_of(proxy: StallProxy, key: str) -> int:
    return proxy.seen(f'"token_hash":"{hash_key(key)}"'.encode())


def test_warm_keys_past_their_ttl_are_answered_while_the_control_plane_stalls(
    deployment: Deployment,
) -> None:
    url, proxy = deployment.engine, deployment.proxy
    keys = [deployment.keys["warm-1"], deployment.keys["warm-2"]]
    for key in keys:
        answered(url, key)  # the engine now holds both routes
    before = {key: resolves_of(proxy, key) for key in keys}
    proxy.stall()  # from here on the control plane answers nothing
    try:
        time.sleep(1.5)  # past the 1 s TTL: both routes are stale
        for _ in range(3):
            for key in keys:
                answered(url, key)  # from the stale route, the control plane still held
        deadline = time.monotonic() + 10
        while any(resolves_of(proxy, k) == before[k] for k in keys):
            assert time.monotonic() < deadline, "no refresh reached the control plane"
            time.sleep(0.05)
        for _ in range(3):
            for key in keys:
                answered(url, key)
        # the answers did not wait for the refreshes: both are still held at the proxy
        assert readyz(url)[1]["checks"]["routes"]["refreshing"] == 2
        # one refresh per key in flight, however many calls came meanwhile
        assert {k: resolves_of(proxy, k) - before[k] for k in keys} == {k: 1 for k in keys}
    finally:
        proxy.release()


def test_a_frozen_redis_costs_a_new_key_one_timeout_and_heals_without_restart(
    deployment: Deployment,
) -> None:
    url, redis, keys = deployment.engine, deployment.redis, deployment.keys
    before = wait_until_ready(url)["checks"]["redis"]["timeouts"]
    redis.freeze()
    try:
        answered(url, keys["new-1"])  # never seen: Redis is asked, and does not answer
        answered(url, keys["new-2"])  # Redis is skipped now
        status, body = readyz(url)
        assert (status, body["status"]) == (200, "degraded"), body
        assert body["checks"]["redis"]["status"] == "down"
        assert body["checks"]["redis"]["timeouts"] - before == 1
    finally:
        redis.thaw()
    wait_until_ready(url)  # the same process: no restart
    answered(url, keys["new-3"])
    with redis.client() as plain:
        assert plain.exists(ROUTE_KEY_PREFIX + hash_key(keys["new-3"]))


def test_readiness_is_not_ready_while_the_control_plane_refuses_the_signature(
    deployment: Deployment,
) -> None:
    stack = deployment.stack
    port = stack.start_engine(
        extra_env={"JUNCTION_INTERNAL_SECRET": "not-the-control-planes-" + secrets.token_hex(16)}
    )
    try:
        status, body = readyz(f"http://127.0.0.1:{port}")
        assert (status, body["status"]) == (503, "not_ready"), body
        assert body["checks"]["control_plane"]["status"] == "refused"
        resp = chat(f"http://127.0.0.1:{port}", stack.demo_token)
        assert resp.status_code == 503
        assert resp.json()["error"]["code"] == "control_plane_unavailable"
    finally:
        stack.procs[f"engine-{port}"].stop()
