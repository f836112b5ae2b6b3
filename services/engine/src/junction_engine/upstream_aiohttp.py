"""The aiohttp upstream client (``JUNCTION_UPSTREAM_CLIENT=aiohttp``)."""

from __future__ import annotations

import socket

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from junction_contracts.egress import REFUSED, Egress, EgressRefused
from junction_engine.settings import EngineSettings
from junction_engine.upstream import (
    Reply,
    UpstreamBroken,
    UpstreamTimeout,
    UpstreamUnreachable,
    read_body,
)


class _CheckedResolver(AbstractResolver):
    """Each name resolved once and checked (junction_contracts.egress); that address is used."""

    def __init__(self, egress: Egress) -> None:
        self._egress = egress

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        address = await self._egress.resolve(host, port)
        v6 = ":" in address
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if v6 else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        return None


class AiohttpUpstream:
    """The production client: one aiohttp session, opened in the running loop on first use."""

    def __init__(self, settings: EngineSettings, *, egress: Egress | None = None) -> None:
        self._settings = settings
        self._egress = egress
        self._session: aiohttp.ClientSession | None = None

    def _open_session(self) -> aiohttp.ClientSession:
        s = self._settings
        connector = aiohttp.TCPConnector(
            limit=s.upstream_max_connections,
            keepalive_timeout=30,
            ttl_dns_cache=60,
            resolver=_CheckedResolver(self._egress) if self._egress is not None else None,
        )
        return aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=s.connect_timeout, sock_read=s.idle_timeout
            ),
            # a provider's cookies must never travel to the next call (or the next tenant)
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
            skip_auto_headers=("User-Agent",),
        )

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> Reply:
        session = self._session
        if session is None:
            session = self._session = self._open_session()
        try:
            if self._egress is not None:
                # aiohttp does not resolve (so its resolver cannot check) an address literal
                self._egress.check_literal(self._egress.target(url).host)
            resp = await session.post(url, headers=headers, data=body, allow_redirects=False)
        except EgressRefused as exc:
            raise UpstreamUnreachable(REFUSED) from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamTimeout("the provider timed out") from exc
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            # ValueError: aiohttp refuses some malformed URLs and header values that way
            raise UpstreamUnreachable("the provider could not be reached") from exc
        return _AiohttpReply(resp)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _AiohttpReply:
    __slots__ = ("_resp", "_whole", "status")

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp = resp
        self._whole = False
        self.status = resp.status

    def header(self, name: str) -> str | None:
        return self._resp.headers.get(name)

    async def read(self, cap: int | None = None) -> bytes:
        return await read_body(self, cap)

    async def chunk(self) -> bytes:
        try:
            piece = await self._resp.content.readany()
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamTimeout("the provider's answer stalled") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamBroken("the provider's answer broke off") from exc
        if not piece:
            self._whole = True
        return piece

    async def close(self) -> None:
        if self._whole:
            self._resp.release()  # read to its end: the connection goes back to the pool
        else:
            self._resp.close()  # unread bytes may follow: never hand this connection on
