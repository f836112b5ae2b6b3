"""The lean HTTP/1.1 provider client against real loopback sockets, one behaviour each.

Each test runs a tiny asyncio server that answers with literal bytes, so
the framing (length, chunks, close), keep-alive reuse and every failure the
client maps are pinned without the mock LLM.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from junction_engine.settings import EngineSettings
from junction_engine.upstream import UpstreamBroken, UpstreamTimeout, UpstreamUnreachable
from junction_engine.upstream_http1 import Http1Upstream

Answer = Callable[[bytes], list[bytes] | None]  # request bytes -> pieces to send (None: close)

OK = b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"ok":true}'
CHUNKED = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    b"7\r\ndata: 1\r\n7\r\ndata: 2\r\n0\r\n\r\n"
)


@asynccontextmanager
async def server(answer: Answer) -> AsyncIterator[tuple[str, list[int]]]:
    """A loopback server; yields its URL and the number of requests per connection."""
    per_connection: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        per_connection.append(0)
        index = len(per_connection) - 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                request = head + await reader.readexactly(length)
                per_connection[index] += 1
                pieces = answer(request)
                if pieces is None:
                    break
                for piece in pieces:
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0.005)
                if b"connection: close" in pieces[0] or b"content-length: 100" in pieces[0]:
                    break  # the answer ends (or is cut) with the connection
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1/chat/completions", per_connection
    finally:
        srv.close()


def client(**overrides: float) -> Http1Upstream:
    return Http1Upstream(EngineSettings(internal_secret=b"x" * 32, **overrides))  # type: ignore[arg-type]


async def test_a_content_length_answer_is_read_and_its_connection_reused() -> None:
    seen: list[bytes] = []

    def answer(request: bytes) -> list[bytes]:
        seen.append(request)
        return [OK[:30], OK[30:]]

    async with server(answer) as (url, per_connection):
        up = client()
        for _ in range(3):
            reply = await up.post(url, {"authorization": "Bearer k"}, b'{"a":1}')
            assert reply.status == 200
            assert reply.header("Content-Type") == "application/json"
            assert await reply.read() == b'{"ok":true}'
            await reply.close()
        await up.aclose()
    assert per_connection == [3]
    assert seen[0].startswith(b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:")
    assert seen[0].endswith(b'content-length: 7\r\n\r\n{"a":1}')


async def test_a_chunked_answer_arrives_piece_by_piece() -> None:
    async with server(lambda _: [CHUNKED[:90], CHUNKED[90:]]) as (url, _):
        up = client()
        reply = await up.post(url, {}, b"{}")
        pieces = []
        while piece := await reply.chunk():
            pieces.append(piece)
        await reply.close()
        await up.aclose()
    assert b"".join(pieces) == b"data: 1data: 2"


async def test_an_answer_left_unread_never_lends_its_connection() -> None:
    async with server(lambda _: [CHUNKED]) as (url, per_connection):
        up = client()
        reply = await up.post(url, {}, b"{}")
        await reply.close()  # nothing read
        reply = await up.post(url, {}, b"{}")
        await reply.read()
        await reply.close()
        await up.aclose()
    assert per_connection == [1, 1]


async def test_an_answer_delimited_by_close_ends_with_its_connection() -> None:
    legacy = [b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n", b"all of it"]
    async with server(lambda _: legacy) as (url, _):
        up = client()
        reply = await up.post(url, {}, b"{}")
        assert await reply.read() == b"all of it"
        await reply.close()
        await up.aclose()


async def test_a_server_that_closes_before_answering_is_unreachable() -> None:
    async with server(lambda _: None) as (url, _):
        with pytest.raises(UpstreamUnreachable):
            await client().post(url, {}, b"{}")


async def test_a_body_cut_short_is_broken() -> None:
    cut = [b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n", b"only some", None]

    def answer(_: bytes) -> list[bytes] | None:
        return [p for p in cut if p is not None]

    async with server(answer) as (url, _):
        reply = await client().post(url, {}, b"{}")
        assert await reply.chunk() == b"only some"
        with pytest.raises(UpstreamBroken):
            await reply.read()
        await reply.close()


async def test_silence_past_the_idle_timeout_is_a_timeout() -> None:
    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)
        writer.close()

    srv = await asyncio.start_server(stall, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        with pytest.raises(UpstreamTimeout):
            await client(idle_timeout=0.1).post(f"http://127.0.0.1:{port}/x", {}, b"{}")
    finally:
        srv.close()


async def test_nothing_listening_is_unreachable() -> None:
    srv = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    srv.close()
    await srv.wait_closed()
    with pytest.raises(UpstreamUnreachable):
        await client().post(f"http://127.0.0.1:{port}/x", {}, b"{}")


async def test_a_header_with_a_line_break_is_never_sent() -> None:
    async with server(lambda _: [OK]) as (url, per_connection):
        with pytest.raises(UpstreamUnreachable):
            await client().post(url, {"x-extra": "a\r\nx-injected: 1"}, b"{}")
    assert per_connection in ([], [0])


async def test_urls_that_are_not_http_are_refused() -> None:
    with pytest.raises(UpstreamUnreachable):
        await client().post("ftp://127.0.0.1/x", {}, b"{}")


async def test_at_the_connection_cap_an_idle_connection_makes_room() -> None:
    async with server(lambda _: [OK]) as (url, per_connection):
        up = client(upstream_max_connections=1)
        reply = await up.post(url, {}, b"{}")
        await reply.read()
        await reply.close()  # one idle connection: the cap is reached
        other = url.replace("127.0.0.1", "localhost")  # another pool key, same server
        reply = await up.post(other, {}, b"{}")
        assert await reply.read() == b'{"ok":true}'
        await reply.close()
        await up.aclose()
    assert per_connection == [1, 1]


async def test_at_the_connection_cap_a_busy_pool_times_out_cleanly() -> None:
    async with server(lambda _: [CHUNKED[:80]]) as (url, _):
        up = client(upstream_max_connections=1, connect_timeout=0.1)
        held = await up.post(url, {}, b"{}")  # its answer never ends: the one slot stays busy
        with pytest.raises(UpstreamTimeout):
            await up.post(url, {}, b"{}")
        await held.close()
        await up.aclose()


async def test_a_keepalive_connection_the_server_closed_while_idle_is_replaced() -> None:
    async def one_answer_then_close(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        writer.write(OK)  # keep-alive promised, then closed: as an idle timeout does
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()

    srv = await asyncio.start_server(one_answer_then_close, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}/x"
    try:
        up = client()
        for _ in range(3):
            reply = await up.post(url, {}, b"{}")
            assert await reply.read() == b'{"ok":true}'
            await reply.close()
            await asyncio.sleep(0.01)  # the server closes while the connection idles
        await up.aclose()
    finally:
        srv.close()
