"""Several control-plane replicas: the engine goes to the one that answered last, and
on to the next on a connection error, a timeout or a 5xx."""

from __future__ import annotations

import httpx
import pytest

from junction_engine.client_keys import hash_key
from junction_engine.control_client import ControlClient, ControlError
from junction_engine.settings import EngineSettings, SettingsError, control_urls
from junction_engine.upstream_http1 import Http1Upstream
from tests.engine.test_control_client import _lean, control_at
from tests.engine.test_telemetry import event
from tests.support.routes import SECRET, FakeControl, route
from tests.support.stack import free_port

KEY = "jk-test-failover"


class Replicas:
    """Two fake replicas behind one transport, told apart by host; either may break."""

    def __init__(self) -> None:
        self.a = FakeControl({hash_key(KEY): route()})
        # one replay cache for the whole control plane, as replicas sharing Redis have
        self.b = FakeControl({hash_key(KEY): route()}, verifier=self.a.verifier)
        self.answers: dict[str, int] = {}
        self.seen: list[str] = []

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            host = request.url.host
            self.seen.append(host)
            replica = self.a if host == "control-a" else self.b
            if host in self.answers and not replica.down:
                # the replica read (and remembered) the call, then failed
                replica.verifier.verify(
                    request.method, request.url.path, request.content, dict(request.headers)
                )
                return httpx.Response(self.answers[host], json={"error": {"code": "down"}})
            return replica._handle(request)

        return httpx.MockTransport(handle)

    def client(self) -> ControlClient:
        http = httpx.AsyncClient(transport=self.transport())
        return ControlClient(http, "http://control-a, http://control-b", SECRET)


async def test_a_replica_that_refuses_connections_is_skipped_and_the_next_one_kept() -> None:
    replicas = Replicas()
    replicas.a.down = True
    client = replicas.client()

    assert await client.resolve(hash_key(KEY)) is not None
    assert client.current_url == "http://control-b"
    assert await client.resolve(hash_key(KEY)) is not None
    # the second call went straight to the replica that answered
    assert replicas.seen == ["control-a", "control-b", "control-b"]
    assert client.health.available is True


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_5xx_fails_over_with_a_fresh_signature(status: int) -> None:
    replicas = Replicas()
    replicas.answers["control-a"] = status
    client = replicas.client()

    # replica a remembered the nonce of the first attempt; b shares that memory,
    # so the same signature sent on would be refused as a replay
    await client.post_events([event(1)])
    await client.post_health([])
    assert [e["call_id"] for e in replicas.b.events] == ["call-1"]
    assert client.current_url == "http://control-b"


async def test_a_refused_signature_is_not_failed_over() -> None:
    # a wrong secret is wrong on every replica: the answer stands as it is
    replicas = Replicas()
    replicas.answers["control-a"] = 401
    client = replicas.client()
    with pytest.raises(ControlError, match="refused this engine's signature"):
        await client.resolve(hash_key(KEY))
    assert replicas.seen == ["control-a"]
    assert client.health.signature == "refused"


async def test_every_replica_down_is_one_control_error() -> None:
    replicas = Replicas()
    replicas.a.down = replicas.b.down = True
    client = replicas.client()
    with pytest.raises(ControlError, match="unreachable"):
        await client.resolve(hash_key(KEY))
    assert replicas.seen == ["control-a", "control-b"]
    assert client.health.available is False


async def test_every_replica_failing_keeps_the_last_answer() -> None:
    replicas = Replicas()
    replicas.answers.update({"control-a": 503, "control-b": 500})
    client = replicas.client()
    with pytest.raises(ControlError, match="answered 500"):
        await client.post_events([event(1)])
    assert client.health.available is False
    assert client.current_url == "http://control-a"  # nothing better was found


async def test_telemetry_fails_over_on_the_lean_client_over_real_sockets() -> None:
    lean: Http1Upstream = _lean()
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with control_at() as (control, live):
        client = ControlClient(httpx.AsyncClient(), f"{dead} {live}", SECRET, events=lean)
        await client.post_events([event(1)])
        await client.post_events([event(2)])
    await lean.aclose()
    assert [e["call_id"] for e in control.events] == ["call-1", "call-2"]
    assert client.current_url == live


def test_the_setting_takes_several_urls_comma_or_space_separated() -> None:
    env = {
        "JUNCTION_INTERNAL_SECRET": SECRET.decode(),
        "JUNCTION_CONTROL_URL": "http://a:8082/, http://b:8082  https://c,http://a:8082",
    }
    settings = EngineSettings.from_env(env, env_file=None)
    assert control_urls(settings.control_url) == ("http://a:8082", "http://b:8082", "https://c")
    one = EngineSettings.from_env({"JUNCTION_INTERNAL_SECRET": SECRET.decode()}, env_file=None)
    assert control_urls(one.control_url) == ("http://127.0.0.1:8082",)


def test_one_bad_url_in_the_list_is_named() -> None:
    env = {
        "JUNCTION_INTERNAL_SECRET": SECRET.decode(),
        "JUNCTION_CONTROL_URL": "http://a:8082,ftp://b",
    }
    with pytest.raises(SettingsError, match=r"^JUNCTION_CONTROL_URL must be a URL .*'ftp://b'"):
        EngineSettings.from_env(env, env_file=None)
