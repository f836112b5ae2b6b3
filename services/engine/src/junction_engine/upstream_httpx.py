"""httpx over a handed-in transport: how tests serve providers in-process."""

from __future__ import annotations

import httpx

from junction_engine.settings import EngineSettings
from junction_engine.upstream import (
    Reply,
    UpstreamBroken,
    UpstreamTimeout,
    UpstreamUnreachable,
    read_body,
)


class HttpxUpstream:
    """httpx over a handed-in transport, so tests can serve providers in-process."""

    def __init__(self, settings: EngineSettings, transport: httpx.AsyncBaseTransport) -> None:
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.idle_timeout,
                write=settings.idle_timeout,
                pool=settings.connect_timeout,
            ),
            transport=transport,
            follow_redirects=False,
            trust_env=False,
        )

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> Reply:
        request = self._client.build_request("POST", url, headers=headers, content=body)
        try:
            resp = await self._client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout("the provider timed out") from exc
        except httpx.HTTPError as exc:
            raise UpstreamUnreachable("the provider could not be reached") from exc
        return _HttpxReply(resp)

    async def aclose(self) -> None:
        await self._client.aclose()


class _HttpxReply:
    __slots__ = ("_chunks", "_resp", "status")

    def __init__(self, resp: httpx.Response) -> None:
        self._resp = resp
        self._chunks = resp.aiter_bytes()
        self.status = resp.status_code

    def header(self, name: str) -> str | None:
        value: str | None = self._resp.headers.get(name)
        return value

    async def read(self, cap: int | None = None) -> bytes:
        return await read_body(self, cap)

    async def chunk(self) -> bytes:
        try:
            return await anext(self._chunks)
        except StopAsyncIteration:
            return b""
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout("the provider's answer stalled") from exc
        except httpx.HTTPError as exc:
            raise UpstreamBroken("the provider's answer broke off") from exc

    async def close(self) -> None:
        await self._resp.aclose()
