"""The engine's HTTP/1.1 connections: uvicorn's httptools protocol, with the deadlines it lacks.

uvicorn closes a connection that idles between two requests (keep-alive),
but nothing bounds the request head itself: a client that sends one header
byte every few seconds, or connects and sends nothing, holds a socket, a
parser and a slot forever (slowloris). Nor is a client that stops reading
ever dropped: its response waits on a full socket buffer, and even closing
the connection waits for that buffer to drain.

`JunctionHttpProtocol` adds, per connection:

- a head deadline: a request's line and headers must be complete within
  the header timeout, counted from the connection's start for its first
  request and from the first byte of each later one; past it the
  connection is closed;
- a write-idle deadline: while the socket buffer is full (the transport
  paused writing) a timer runs; past it, once the answer is written (or the
  connection is closing), a client still not reading is reset;
- `responses.CONNECTION_EXTENSION` in each request's scope, so a streamed
  answer cuts a client that stalls mid-stream itself, recording why, and a
  handler can ask to hear of the client leaving (``watch``: a callback the
  connection's loss calls once) without a task per request to wait for it.

A dropped connection is reset, not closed: a close leaves the kernel
trying, for minutes, to deliver what is buffered to a client that does not
read it.

The engine runs it with uvloop; httptools is a dependency of the engine
(``uvicorn[standard]``), so this is the protocol class it really serves with.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import struct
from collections.abc import Callable
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from junction_engine.responses import CONNECTION_EXTENSION

#: SO_LINGER on, for 0 seconds: closing the socket resets the connection
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)


class JunctionHttpProtocol(HttpToolsProtocol):
    """httptools' protocol with a head deadline and a write-idle deadline."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        header_timeout: float,
        write_idle_timeout: float,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout = header_timeout
        self.write_idle_timeout = write_idle_timeout
        #: when the request head being read began (None: no head under way)
        self._head_since: float | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None
        self._extensions: dict[str, dict[object, object]] = {}
        #: called once if the connection is lost while set (`_watch`)
        self._on_lost: Callable[[], None] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._extensions = {
            CONNECTION_EXTENSION: {
                "abort": self._abort,
                "write_idle_timeout": self.write_idle_timeout,
                "watch": self._watch,
            }
        }
        # the first head's time counts from the connection's start
        self._head_since = self.loop.time()
        self._head_timer = self.loop.call_at(self._head_since + self.header_timeout, self._heads)

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._head_timer, self._write_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._write_timer = None
        super().connection_lost(exc)
        on_lost, self._on_lost = self._on_lost, None
        if on_lost is not None:
            on_lost()

    def _watch(self, on_lost: Callable[[], None] | None) -> None:
        """Call `on_lost` if the connection is lost before the next `_watch` (None: stop)."""
        self._on_lost = on_lost

    # parser callbacks: a head starts with its first byte and ends with its headers
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope["extensions"] = self._extensions
        if self._head_since is None:
            self._head_since = self.loop.time()
            if self._head_timer is None:
                self._head_timer = self.loop.call_at(
                    self._head_since + self.header_timeout, self._heads
                )

    def on_headers_complete(self) -> None:
        self._head_since = None
        super().on_headers_complete()

    def _abort(self) -> None:
        """Drop the connection now, for an app that gives up on its client."""
        if self.cycle is not None and not self.cycle.response_complete:
            # at once, not when the transport reports the loss: the app returning
            # next is then a client gone, not an answer left unfinished (an error)
            self.cycle.disconnected = True
        self._reset()

    def _reset(self) -> None:
        """Close with a reset: what waits in the socket buffers is dropped, not delivered."""
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
        self.transport.abort()

    def _heads(self) -> None:
        """Close a connection whose head is late; else wake at the current head's deadline.

        One timer serves every request of a connection: a head that completes
        leaves it armed, and it is re-armed only while a head is under way,
        so a busy keep-alive connection sets about one timer per timeout, not
        one per request.
        """
        self._head_timer = None
        since = self._head_since
        if since is None:
            return  # no head under way: the next one arms the timer
        due = since + self.header_timeout
        if self.loop.time() < due:
            self._head_timer = self.loop.call_at(due, self._heads)
        elif not self.transport.is_closing():
            self.transport.close()

    # flow control: the transport pauses writing while its buffer is over the high-water mark
    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(self.write_idle_timeout, self._write_stalled)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _write_stalled(self) -> None:
        self._write_timer = None
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and not self.transport.is_closing():
            # an answer is still being written: the app ends it (a stream records why);
            # look again a period later
            self._write_timer = self.loop.call_later(self.write_idle_timeout, self._write_stalled)
            return
        self._reset()


def protocol_class(*, header_timeout: float, write_idle_timeout: float) -> Callable[..., Any]:
    """What uvicorn's ``http`` option takes: the protocol with these deadlines.

    A partial of a module-level class, so it pickles into worker processes.
    """
    return functools.partial(
        JunctionHttpProtocol, header_timeout=header_timeout, write_idle_timeout=write_idle_timeout
    )
