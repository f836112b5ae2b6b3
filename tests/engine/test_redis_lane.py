"""The engine's pipelined Redis connection: replies in order, failures fast and contained."""

from __future__ import annotations

import asyncio
import secrets
import time

import pytest
from redis.asyncio import Redis

from junction_engine.redis_lane import LaneError, RedisLane


@pytest.mark.redis
async def test_concurrent_callers_each_get_their_own_reply(lane: RedisLane) -> None:
    prefix = "lane-" + secrets.token_hex(4)
    await lane.pipeline([("SET", f"{prefix}:{n}", n * 7, "EX", 60) for n in range(300)])
    replies = await asyncio.gather(*(lane.call("GET", f"{prefix}:{n}") for n in range(300)))
    assert replies == [str(n * 7).encode() for n in range(300)]


@pytest.mark.redis
async def test_the_database_in_the_url_is_selected(redis_url: str) -> None:
    base = redis_url.rsplit("/", 1)[0]
    lane = RedisLane(f"{base}/3")
    key = "lane-db-" + secrets.token_hex(4)
    try:
        await lane.call("SET", key, "here", "EX", 60)
    finally:
        await lane.aclose()
    other = Redis.from_url(f"{base}/3")
    try:
        assert await other.get(key) == b"here"
    finally:
        await other.aclose()


@pytest.mark.redis
async def test_a_script_is_loaded_when_redis_forgot_it(lane: RedisLane) -> None:
    sha = lane.script("return tonumber(ARGV[1]) + 1")
    assert await lane.run(sha, [], [41]) == 42
    await lane.call("SCRIPT", "FLUSH")
    assert await lane.run(sha, [], [1]) == 2


@pytest.mark.redis
async def test_an_error_reply_raises_and_the_connection_stays_usable(lane: RedisLane) -> None:
    with pytest.raises(LaneError, match="refused"):
        await lane.call("NOSUCHCOMMAND")
    assert await lane.call("PING") == b"PONG"


async def test_unreachable_redis_fails_at_once_then_pauses() -> None:
    lane = RedisLane("redis://127.0.0.1:1/0", timeout=0.5, pause=30)
    try:
        with pytest.raises(LaneError, match="cannot reach"):
            await lane.call("PING")
        with pytest.raises(LaneError, match="not asking again"):
            await lane.call("PING")
    finally:
        await lane.aclose()


async def test_a_frozen_server_times_out_and_is_not_asked_again_during_the_pause() -> None:
    """A server that accepts and reads but never answers (Redis stopped with SIGSTOP)."""
    received: list[bytes] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while chunk := await reader.read(65536):
            received.append(chunk)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    lane = RedisLane(f"redis://127.0.0.1:{port}/0", timeout=0.2, pause=30)
    try:
        started = time.monotonic()
        with pytest.raises(LaneError, match="did not answer"):
            await lane.call("PING")
        assert time.monotonic() - started < 2
        assert b"PING" in b"".join(received)  # it was written, not answered
        calls = len(received)
        with pytest.raises(LaneError, match="not asking again"):
            await lane.call("PING")
        await asyncio.sleep(0.05)
        assert len(received) == calls  # nothing more was sent
    finally:
        await lane.aclose()
        server.close()
        await server.wait_closed()


async def test_a_pipeline_to_a_frozen_server_fails_as_a_timeout() -> None:
    """Only the last reply of a pipeline is timed: the others fail with it, cleanly."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65536):
            pass
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    lane = RedisLane(f"redis://127.0.0.1:{port}/0", timeout=0.2, pause=30)
    try:
        with pytest.raises(LaneError, match="did not answer"):
            await lane.pipeline([("INCRBY", "k", 1), ("EXPIRE", "k", 60), ("GET", "k")])
    finally:
        await lane.aclose()
        server.close()
        await server.wait_closed()


async def test_a_connection_lost_mid_call_fails_every_waiting_caller() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    lane = RedisLane(f"redis://127.0.0.1:{port}/0", timeout=2)
    try:
        results = await asyncio.gather(
            *(lane.call("GET", f"k{n}") for n in range(5)), return_exceptions=True
        )
    finally:
        await lane.aclose()
        server.close()
        await server.wait_closed()
    assert all(isinstance(r, LaneError) for r in results)
    assert all("lost" in str(r) for r in results)


@pytest.mark.redis
def test_the_lane_runs_on_uvloop_as_the_engine_does(redis_url: str) -> None:
    """uvloop's transports are not asyncio's classes: the lane must not depend on them."""
    import uvloop

    async def exchange() -> list[bytes]:
        lane = RedisLane(redis_url)
        try:
            return list(await asyncio.gather(*(lane.call("ECHO", f"m{n}") for n in range(20))))
        finally:
            await lane.aclose()

    assert uvloop.run(exchange()) == [f"m{n}".encode() for n in range(20)]
