"""The body timeout: a request's whole body must arrive within it once its handler reads it.

A client that stops sending its body mid-way would otherwise hold its
handler (and its in-flight slot) forever. Past the timeout the read raises
a 408 ``body_timeout`` GatewayError, which the handler answers in the
caller's protocol like any refusal, with ``connection: close``.

Nearly every body is whole by its first read, so the watch is built to cost
next to nothing then: a read in progress is one dict entry, and one timer
per engine (not one per read) wakes at the earliest deadline.
"""

from __future__ import annotations

import asyncio

from starlette.types import Message, Receive

from junction_engine.errors import GatewayError


class BodyDeadlines:
    """Body reads in progress and their deadlines, watched by one timer."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._reading: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._timer: asyncio.TimerHandle | None = None

    def bounded(self, receive: Receive) -> Receive:
        """`receive`, bounded by the body timeout until the body is whole.

        The clock starts at the first read (the handler may first wait for
        the key's route); once the body is complete, reads pass straight
        through, so the disconnect watchers that follow wait as long as they
        need.
        """
        deadline = 0.0
        complete = False

        async def receive_in_time() -> Message:
            nonlocal deadline, complete
            if complete:
                return await receive()
            loop = asyncio.get_running_loop()
            if not deadline:
                deadline = loop.time() + self.timeout
            task: asyncio.Task[object] = asyncio.current_task()  # type: ignore[assignment]
            self._reading[task] = deadline
            if self._timer is None:
                self._timer = loop.call_at(deadline, self._expire)
            try:
                message = await receive()
            except asyncio.CancelledError:
                if task not in self._expired:
                    raise
                self._expired.discard(task)
                task.uncancel()
                raise self._error() from None
            finally:
                self._reading.pop(task, None)
            complete = not message.get("more_body", False)
            return message

        return receive_in_time

    def _error(self) -> GatewayError:
        return GatewayError(
            f"the request body did not arrive in time (the limit is {self.timeout:g} s)",
            status=408,
            code="body_timeout",
            headers={"connection": "close"},
        )

    def _expire(self) -> None:
        """Stop the reads past their deadline; wake again at the earliest one left."""
        self._timer = None
        if not self._reading:
            return  # the next read arms the timer again
        loop = asyncio.get_running_loop()
        now = loop.time()
        for task, deadline in list(self._reading.items()):
            if deadline <= now:
                del self._reading[task]
                self._expired.add(task)
                task.cancel()
        if self._reading:
            self._timer = loop.call_at(min(self._reading.values()), self._expire)
