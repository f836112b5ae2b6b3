"""Telemetry out of the request path: a bounded queue, sent in batches, never lost.

Handlers only `emit()` (no I/O, never raises). A background task sends
batches to the control plane. A `started` event waits beside the queue
until the next send: a call that finishes before then is reported by its
`finished` event alone (which carries everything `started` would), so the
control plane ingests one event per short call, and calls still running at
a send are reported as started. While the control plane is unreachable,
events wait in memory; past the memory bound the oldest go to a spool file
(JSON lines) and are replayed once the control plane answers again. Any
replica may replay any spool file it finds: a file is claimed by an atomic
rename, and the control plane ingests idempotently, so a replay that
overlaps a send never counts a call twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path

from junction_contracts import ContractError
from junction_contracts.telemetry import CallEvent
from junction_engine.control_client import ControlError, RejectedBatch

log = logging.getLogger("junction.engine.telemetry")

Sender = Callable[[list[CallEvent]], Awaitable[None]]


class TelemetrySink:
    def __init__(
        self,
        send: Sender,
        *,
        spool_dir: Path | None,
        spool_name: str = "telemetry",
        max_memory: int = 20_000,
        batch_size: int = 500,
        flush_interval: float = 1.0,
        max_backoff: float = 30.0,
    ) -> None:
        self._send = send
        self._spool_dir = spool_dir
        self._spool_file = (
            spool_dir / f"{spool_name}-{os.getpid()}.jsonl" if spool_dir is not None else None
        )
        self._max_memory = max_memory
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._max_backoff = max_backoff
        self._queue: deque[CallEvent] = deque()
        #: started events of calls not finished yet, built and sent with the next batch
        self._starts: dict[str, Callable[[], CallEvent]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.spooled = 0
        self.replayed = 0
        self.dropped = 0

    @property
    def pending(self) -> int:
        return len(self._queue) + len(self._starts)

    def emit(self, event: CallEvent) -> None:
        """Queue one event. Never blocks, never raises."""
        if event.kind == "started":
            self.emit_started(event.call_id, lambda: event)
            return
        # a start not sent yet says nothing that its finish does not
        self._starts.pop(event.call_id, None)
        self._queue.append(event)
        if self.pending > self._max_memory:
            self._take_starts()
            self._spill(self._max_memory // 2)
        if len(self._queue) >= self._batch_size:
            self._wake.set()

    def emit_started(self, call_id: str, build: Callable[[], CallEvent]) -> None:
        """Note that a call started; its event is built only if it is still running at a send."""
        self._starts[call_id] = build
        if self.pending > self._max_memory:
            self._take_starts()
            self._spill(self._max_memory // 2)

    def _take_starts(self) -> None:
        """Queue the started events of calls still running: they go out with this send."""
        if self._starts:
            self._queue.extend(build() for build in self._starts.values())
            self._starts.clear()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="telemetry-sink")

    async def close(self, grace: float = 5.0) -> None:
        """Send what can be sent within `grace` seconds; spool the rest."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._take_starts()
        try:
            async with asyncio.timeout(grace):
                while self._queue:
                    await self._send_batch()
        except (TimeoutError, _SendFailed):
            log.warning("telemetry not all sent at shutdown; spooling %d events", len(self._queue))
        if self._queue:
            self._spill(len(self._queue))

    async def flush(self) -> None:
        """Send everything queued now (tests and shutdown); raises if the send fails."""
        self._take_starts()
        while self._queue:
            await self._send_batch()

    async def _run(self) -> None:
        backoff = self._flush_interval
        while True:
            try:
                async with asyncio.timeout(backoff):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            self._take_starts()
            try:
                if self._queue:
                    await self._send_batch()
                # full batches go on at once; a part batch waits for the next
                # interval: sending whatever came in during the last send kept
                # a slow stream of calls in batches of a dozen, each as dear
                # to ingest as a full one (4x the control plane's CPU per call)
                while len(self._queue) >= self._batch_size:
                    await self._send_batch()
                # a wake-up counted the batch in flight as queued: it is gone
                self._wake.clear()
                await self._replay_spool()
                backoff = self._flush_interval
            except _SendFailed:
                backoff = min(max(backoff * 2, 0.5), self._max_backoff)

    async def _send_batch(self) -> None:
        batch = [self._queue[i] for i in range(min(self._batch_size, len(self._queue)))]
        await self._deliver(batch)
        for _ in batch:
            self._queue.popleft()

    async def _deliver(self, batch: list[CallEvent]) -> None:
        """Send one batch; a failure that retrying may fix raises _SendFailed."""
        try:
            await self._send(batch)
        except RejectedBatch as exc:
            log.error("control plane rejected %d telemetry events: %s", len(batch), exc)
            self.dropped += len(batch)
        except ControlError as exc:
            log.warning("telemetry send failed (%s); %d events wait", exc, len(self._queue))
            raise _SendFailed from exc
        else:
            self.sent += len(batch)

    def _spill(self, count: int) -> None:
        """Move the oldest `count` events from memory to the spool file."""
        self._write_spool([self._queue.popleft() for _ in range(min(count, len(self._queue)))])

    def _write_spool(self, events: list[CallEvent]) -> None:
        if self._spool_file is None:
            self.dropped += len(events)
            log.error("telemetry queue full and no spool: dropped %d events", len(events))
            return
        try:
            self._spool_file.parent.mkdir(parents=True, exist_ok=True)
            with self._spool_file.open("a", encoding="utf-8") as fh:
                for e in events:
                    fh.write(json.dumps(e.to_dict(), separators=(",", ":")) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            self.dropped += len(events)
            log.error("telemetry spool write failed (%s): dropped %d events", exc, len(events))
            return
        self.spooled += len(events)

    async def _replay_spool(self) -> None:
        """Claim spool files (this process's and orphans') and send their events.

        A claimed file is deleted only once all its events went through; if a
        send fails, the rest goes back to a spool file for the next round.
        """
        if self._spool_dir is None or not self._spool_dir.is_dir():
            return
        for path in sorted(self._spool_dir.iterdir()):
            claimed = _claim(path)
            if claimed is None:
                continue
            events = _read_spool(claimed)
            if events:
                log.info("replaying %d spooled telemetry events from %s", len(events), path.name)
            for start in range(0, len(events), self._batch_size):
                chunk = events[start : start + self._batch_size]
                try:
                    await self._deliver(chunk)
                except _SendFailed:
                    self._write_spool(events[start:])
                    claimed.unlink(missing_ok=True)
                    raise
                self.replayed += len(chunk)
            claimed.unlink(missing_ok=True)


def _claim(path: Path) -> Path | None:
    """Atomically take a spool file; also orphans left by a process that died mid-replay."""
    name = path.name
    if name.endswith(".replaying"):
        owner = name.rsplit(".", 2)[-2]
        if not owner.isdigit() or _alive(int(owner)):
            return None
        base = name.rsplit(".", 2)[0]
    elif name.endswith(".jsonl"):
        base = name
    else:
        return None
    claimed = path.with_name(f"{base}.{os.getpid()}.replaying")
    try:
        path.rename(claimed)
    except OSError:
        return None  # another replica claimed it first
    return claimed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own leftover from a failed round: take it again
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _SendFailed(Exception):
    pass


def _read_spool(path: Path) -> list[CallEvent]:
    events: list[CallEvent] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return events
    for line in lines:
        try:
            events.append(CallEvent.from_dict(json.loads(line)))
        except (ValueError, ContractError):
            log.warning("skipping a damaged line in telemetry spool %s", path.name)
    return events
