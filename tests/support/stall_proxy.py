"""A TCP proxy on a free loopback port that can hold back what clients send.

Put between the engine and the control plane, `stall()` makes the control
plane look as slow as the test wants: requests reach the proxy (and are
counted) but are not passed on until `release()`. The proxy runs its own
event loop in a thread, so it serves real processes as well as the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.stack import free_port


class StallProxy:
    def __init__(self, upstream_port: int) -> None:
        self.port = free_port()
        self._upstream = upstream_port
        self._loop = asyncio.new_event_loop()
        self._open: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._sent: list[bytearray] = []  # what each client connection sent
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stall(self) -> None:
        self._loop.call_soon_threadsafe(self._gate().clear)

    def release(self) -> None:
        self._loop.call_soon_threadsafe(self._gate().set)

    def seen(self, needle: bytes) -> int:
        """How often `needle` occurs in what clients sent, passed on or held."""
        with self._lock:
            return sum(bytes(sent).count(needle) for sent in self._sent)

    def _gate(self) -> asyncio.Event:
        assert self._open is not None
        return self._open

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    async def _main(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._connection, "127.0.0.1", self.port)
        self._ready.set()
        async with server:
            await self._stop.wait()
        for writer in self._writers:
            writer.close()

    async def _connection(
        self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        self._writers.add(client_w)
        sent = bytearray()
        with self._lock:
            self._sent.append(sent)
        # bytes are read (and counted) as they come, and passed on only while open
        chunks: asyncio.Queue[bytes] = asyncio.Queue()
        forward = asyncio.create_task(self._forward(chunks, client_w))
        try:
            while data := await client_r.read(65536):
                with self._lock:
                    sent.extend(data)
                chunks.put_nowait(data)
        except OSError:
            pass
        finally:
            chunks.put_nowait(b"")
            with contextlib.suppress(OSError):
                await forward
            client_w.close()

    async def _forward(self, chunks: asyncio.Queue[bytes], client_w: asyncio.StreamWriter) -> None:
        # The upstream may close an idle keep-alive connection (uvicorn does
        # after 5 s): the client's connection stays open and its next request
        # goes on a new upstream connection, so the proxy adds no failure of
        # its own.
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        pumps: set[asyncio.Task[None]] = set()
        try:
            while data := await chunks.get():
                await self._gate().wait()
                if upstream is None or upstream[0].at_eof() or upstream[1].is_closing():
                    upstream = await asyncio.open_connection("127.0.0.1", self._upstream)
                    self._writers.add(upstream[1])
                    pumps.add(asyncio.create_task(self._downward(upstream, client_w)))
                upstream[1].write(data)
                await upstream[1].drain()
        finally:
            for task in pumps:
                task.cancel()
            if upstream is not None:
                upstream[1].close()

    @staticmethod
    async def _downward(
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        client_w: asyncio.StreamWriter,
    ) -> None:
        up_r, up_w = upstream
        with contextlib.suppress(OSError):
            while data := await up_r.read(65536):
                client_w.write(data)
                await client_w.drain()
        up_w.close()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the stall proxy did not start")

    def stop(self) -> None:
        def finish() -> None:
            self._gate().set()
            assert self._stop is not None
            self._stop.set()

        self._loop.call_soon_threadsafe(finish)
        self._thread.join(timeout=10)


@contextmanager
def stall_proxy(upstream_port: int) -> Iterator[StallProxy]:
    proxy = StallProxy(upstream_port)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
