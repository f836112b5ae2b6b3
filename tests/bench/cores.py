"""Where the bench's processes run: the server under test alone on core 0, the rest on core 1.

Core 1 carries the driver (wrk, the fake upstream, the slow-stream client)
and, for the gateway targets, the control plane and PostgreSQL ingesting the
calls' telemetry. That ingest is the control plane's cost, reported on its
own (CPU per call, over the whole cell, after it drained); it must not slow
the driver, or the engine would be measured against a slower upstream than
the floor is. So the driver runs at a higher priority (nice -10, when the
bench may set it): the ingest takes what the driver leaves, and catches up
between turns.
"""

from __future__ import annotations

import os

SERVER_CORE = "0"
DRIVER_CORE = "1"
BOTH_CORES = "0,1"
#: the driver's niceness, when the bench runs as root (a lower value runs first)
DRIVER_NICE = -10


def may_raise_priority() -> bool:
    """Whether this process may start others at a negative niceness."""
    return os.geteuid() == 0


def pinned(cmd: list[str], cores: str | None, *, driver: bool = False) -> list[str]:
    """`cmd` pinned to `cores` (None: anywhere); a driver process first in line for its core."""
    if cores:
        cmd = ["taskset", "-c", cores, *cmd]
    if driver and may_raise_priority():
        cmd = ["nice", "-n", str(DRIVER_NICE), *cmd]
    return cmd
