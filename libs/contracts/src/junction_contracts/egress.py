"""Where provider calls may go: public addresses, plus what an operator allows.

A provider's base URL is a tenant admin's input, and the gateway connects
to it from inside the network. So before a connection opens, the host is
resolved and every address it resolves to is checked: loopback, private,
link-local (cloud metadata at 169.254.169.254), unique-local, multicast,
unspecified and every other address that is not globally routable is
refused, IPv4 inside IPv6 (``::ffff:a.b.c.d``, ``::a.b.c.d``) is judged as
the IPv4 it carries, and a host written as a number in any form the C
resolver accepts (``0x7f000001``, ``2130706433``, ``0177.0.0.1``, ``127.1``)
is judged as the address it means. The caller then connects to the address
that was checked, so a DNS answer cannot change between check and connect.

An operator allows local or private upstreams explicitly (the demo's mock
on loopback, a model server on the LAN) with an allow-list of networks
(CIDR or single addresses) and host names: ``Egress.parse("127.0.0.1/32,
10.0.0.0/8, models.internal")``.

Every refusal has the same message, whatever the target: no port or
address oracle for whoever saves the URL.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["REFUSED", "Egress", "EgressRefused", "Resolver", "Target", "literal_address"]

REFUSED = "the provider's address is not allowed"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: host, port -> the addresses it resolves to (tests hand in a stub)
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


class EgressRefused(Exception):
    """A destination the gateway must not connect to (always the same message)."""

    def __init__(self) -> None:
        super().__init__(REFUSED)


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: scheme, the host as written (for TLS and Host), its port."""

    scheme: str
    host: str
    port: int


def literal_address(host: str) -> IPAddress | None:
    """The address a host names when it is a number (any form), else None."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(bare.split("%", 1)[0])
    except ValueError:
        pass
    if not bare or not all(c in "0123456789abcdefxABCDEFX." for c in bare):
        return None
    try:
        # the C resolver's IPv4 forms: hex, octal, decimal, short dotted
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except OSError:
        return None


def _judged(address: IPAddress) -> IPAddress:
    """The IPv4 an IPv6 address carries (mapped or compatible), else itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        packed = address.packed
        if packed[:12] == bytes(12) and packed[12:] != bytes(4) and packed[12:] != b"\0\0\0\1":
            return ipaddress.IPv4Address(packed[12:])
    return address


async def _system_resolver(host: str, port: int) -> Sequence[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True, slots=True)
class Egress:
    """The allow-list, and the checks (see the module docstring)."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str | None) -> Egress:
        """From a comma-separated list of CIDRs, addresses and host names; ValueError if bad."""
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for raw in (text or "").split(","):
            item = raw.strip()
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
                continue
            except ValueError:
                pass
            if "/" in item or ":" in item or not all(c.isalnum() or c in "-._" for c in item):
                raise ValueError(
                    f"{item!r} is neither a network (CIDR), an address nor a host name"
                )
            hosts.add(item.lower().rstrip("."))
        return cls(tuple(networks), frozenset(hosts))

    def allows(self, address: IPAddress) -> bool:
        """Whether a connection to `address` may open."""
        if any(address in net for net in self.networks):
            return True
        judged = _judged(address)
        if judged is not address and any(judged in net for net in self.networks):
            return True
        return judged.is_global and not judged.is_multicast

    def target(self, url: str) -> Target:
        """The URL's scheme, host and port; refused unless http(s) without credentials."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise EgressRefused from None
        scheme = parts.scheme.lower()
        host = parts.hostname
        if scheme not in ("http", "https") or not host or "@" in parts.netloc:
            raise EgressRefused
        return Target(scheme, host, port or (443 if scheme == "https" else 80))

    def check_literal(self, host: str) -> IPAddress | None:
        """For a host written as an address: that address if allowed (refused if not)."""
        address = literal_address(host)
        if address is not None and host.lower() not in self.hosts and not self.allows(address):
            raise EgressRefused
        return address

    async def resolve(self, host: str, port: int, resolver: Resolver | None = None) -> str:
        """The address to connect to: every address of `host` allowed, the first one taken.

        Raises EgressRefused, or OSError when the name does not resolve.
        """
        if self.check_literal(host) is not None:
            return str(literal_address(host))
        found = await (resolver or _system_resolver)(host, port)
        if not found:
            raise OSError(f"{host} has no address")
        named = host.lower().rstrip(".") in self.hosts
        for text in found:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            if not named and not self.allows(address):
                raise EgressRefused
        return found[0]
