"""The telemetry sink sends full batches, or what an interval gathered: never a trickle.

Ingesting a batch costs the control plane about the same whatever its size
(a fixed set of statements), so events that come in while a send is under
way wait for a full batch or the next interval instead of leaving at once
in a batch of their own.
"""

from __future__ import annotations

import asyncio

from junction_contracts.telemetry import CallEvent
from junction_engine.telemetry_sink import TelemetrySink
from tests.engine.test_telemetry import event


class HeldSender:
    """Records each batch; the first send waits until the test lets it go."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release = asyncio.Event()
        self.sending = asyncio.Event()

    async def __call__(self, events: list[CallEvent]) -> None:
        self.sending.set()
        if not self.batches:
            await self.release.wait()
        self.batches.append([e.call_id for e in events])


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_events_that_come_in_during_a_send_wait_for_a_full_batch() -> None:
    sender = HeldSender()
    sink = TelemetrySink(sender, spool_dir=None, batch_size=5, flush_interval=60.0)
    sink.start()
    try:
        for n in range(5):  # a full batch: sent at once
            sink.emit(event(n))
        await asyncio.wait_for(sender.sending.wait(), 5)
        for n in range(5, 8):  # three more while it is under way
            sink.emit(event(n))
        sender.release.set()
        await _settle()

        # the three wait: no batch of their own before the interval
        assert sender.batches == [[f"call-{n}" for n in range(5)]]

        for n in range(8, 10):  # the batch fills up: it goes
            sink.emit(event(n))
        await _settle()
        assert sender.batches[1:] == [[f"call-{n}" for n in range(5, 10)]]
    finally:
        await sink.close()


async def test_a_part_batch_goes_at_the_interval() -> None:
    sender = HeldSender()
    sender.release.set()
    sink = TelemetrySink(sender, spool_dir=None, batch_size=100, flush_interval=0.05)
    sink.start()
    try:
        for n in range(3):
            sink.emit(event(n))
        await asyncio.wait_for(sender.sending.wait(), 5)
        await _settle()
        assert sender.batches == [["call-0", "call-1", "call-2"]]
    finally:
        await sink.close()


async def test_more_than_a_batch_queued_goes_out_in_full_batches_back_to_back() -> None:
    sender = HeldSender()
    sender.release.set()
    sink = TelemetrySink(sender, spool_dir=None, batch_size=4, flush_interval=60.0)
    for n in range(10):  # queued before the sink runs: two full batches and a part
        sink.emit(event(n))
    sink.start()
    try:
        await asyncio.wait_for(sender.sending.wait(), 5)
        await _settle()
        assert [len(b) for b in sender.batches] == [4, 4]
        await sink.flush()
        assert [len(b) for b in sender.batches] == [4, 4, 2]
    finally:
        await sink.close()
