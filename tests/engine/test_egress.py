"""The egress guard: providers at private or metadata addresses are never connected to.

No test here sends a packet to a refused address: names resolve through a
stub, and the event loop's connect is replaced by one that fails the test
if it is reached with anything but the allowed loopback mock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from junction_contracts.egress import REFUSED, Egress, EgressRefused, literal_address
from junction_engine.settings import EngineSettings, SettingsError
from junction_engine.upstream import UpstreamUnreachable
from junction_engine.upstream_aiohttp import AiohttpUpstream
from junction_engine.upstream_http1 import Http1Upstream
from tests.support.routes import SECRET

STRICT = Egress()
REFUSED_HOSTS = [
    "127.0.0.1",
    "localhost.localdomain",  # a name: the stub resolves it to loopback
    "10.1.2.3",
    "172.16.0.9",
    "192.168.1.1",
    "100.64.0.1",  # shared address space
    "169.254.169.254",  # cloud metadata
    "0.0.0.0",
    "[::1]",
    "[::]",
    "[fc00::1]",
    "[fe80::1]",
    "[::ffff:169.254.169.254]",  # IPv4-mapped
    "[::ffff:127.0.0.1]",
    "[::127.0.0.1]",  # IPv4-compatible
    "0x7f000001",  # hex
    "2130706433",  # decimal
    "0177.0.0.1",  # octal
    "127.1",  # short dotted
    "0xa9fea9fe",  # the metadata address in hex
    "224.0.0.1",  # multicast
]
NAMES = {
    "localhost.localdomain": ["127.0.0.1"],
    "api.example.com": ["93.184.215.14"],
    "rebinding.example.com": ["93.184.215.14", "10.0.0.7"],  # one bad answer taints it
    "models.internal": ["10.20.0.5"],
}


async def stub_resolver(host: str, port: int) -> Sequence[str]:
    if host not in NAMES:
        raise OSError(f"{host} is not in the stub")
    return NAMES[host]


@pytest.mark.parametrize("host", REFUSED_HOSTS)
async def test_every_private_form_is_refused_with_the_same_message(host: str) -> None:
    target = STRICT.target(f"https://{host}:8443/v1")
    with pytest.raises(EgressRefused) as refused:
        await STRICT.resolve(target.host, target.port, stub_resolver)
    assert str(refused.value) == REFUSED


@pytest.mark.parametrize(
    "url",
    [
        "https://user:pass@api.example.com/v1",
        "https://:secret@api.example.com/v1",
        "ftp://api.example.com/v1",
        "file:///etc/passwd",
        "https:///v1",
        "https://api.example.com:99999/v1",
    ],
)
def test_urls_with_credentials_or_another_scheme_are_refused(url: str) -> None:
    with pytest.raises(EgressRefused):
        STRICT.target(url)


async def test_a_public_name_resolves_to_the_address_that_was_checked() -> None:
    assert await STRICT.resolve("api.example.com", 443, stub_resolver) == "93.184.215.14"
    with pytest.raises(EgressRefused):
        await STRICT.resolve("rebinding.example.com", 443, stub_resolver)


async def test_the_allow_list_admits_networks_and_names() -> None:
    allowed = Egress.parse("127.0.0.1/32, 10.0.0.0/8 ,models.internal")
    assert await allowed.resolve("127.0.0.1", 80, stub_resolver) == "127.0.0.1"
    assert await allowed.resolve("0x7f000001", 80, stub_resolver) == "127.0.0.1"
    assert await allowed.resolve("models.internal", 80, stub_resolver) == "10.20.0.5"
    with pytest.raises(EgressRefused):
        await allowed.resolve("169.254.169.254", 80, stub_resolver)
    with pytest.raises(EgressRefused):
        await allowed.resolve("[::1]", 80, stub_resolver)  # only the IPv4 loopback was listed


def test_numeric_hosts_are_read_as_the_address_they_mean() -> None:
    assert str(literal_address("0x7f000001")) == "127.0.0.1"
    assert str(literal_address("2130706433")) == "127.0.0.1"
    assert str(literal_address("0177.0.0.1")) == "127.0.0.1"
    assert literal_address("api.example.com") is None
    assert literal_address("cafe") is None  # a name made of hex digits is still a name


def test_a_bad_allow_list_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="JUNCTION_EGRESS_ALLOW"):
        EngineSettings.from_env(
            {"JUNCTION_INTERNAL_SECRET": SECRET.decode(), "JUNCTION_EGRESS_ALLOW": "10.0.0.0/99"},
            env_file=None,
        )


async def test_the_engine_never_connects_to_a_refused_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every refused form, through the engine's client: no connection is even attempted."""
    loop = asyncio.get_running_loop()
    attempted: list[Any] = []

    async def no_connect(*args: Any, **kwargs: Any) -> Any:
        attempted.append(args[1:3])
        raise AssertionError("the engine tried to connect to a refused address")

    monkeypatch.setattr(loop, "create_connection", no_connect)
    client = Http1Upstream(
        EngineSettings(internal_secret=SECRET), egress=STRICT, resolver=stub_resolver
    )
    messages = set()
    for host in [*REFUSED_HOSTS, "rebinding.example.com"]:
        with pytest.raises(UpstreamUnreachable) as refused:
            await client.post(f"http://{host}:5432/v1/chat/completions", {}, b"{}")
        messages.add(str(refused.value))
    with pytest.raises(UpstreamUnreachable):
        await client.post("http://user:pw@api.example.com/v1", {}, b"{}")
    await client.aclose()
    assert attempted == []
    assert messages == {REFUSED}  # one message for every target: no oracle


async def test_the_aiohttp_client_refuses_address_literals_before_connecting() -> None:
    client = AiohttpUpstream(EngineSettings(internal_secret=SECRET), egress=STRICT)
    try:
        for host in ("169.254.169.254", "0x7f000001", "[::ffff:10.0.0.1]"):
            with pytest.raises(UpstreamUnreachable, match=REFUSED):
                await client.post(f"http://{host}/v1/chat/completions", {}, b"{}")
    finally:
        await client.aclose()
