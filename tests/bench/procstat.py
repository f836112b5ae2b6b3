"""What a process tree costs, read from /proc: CPU time and peak resident memory.

A server counts with all its descendants: uvicorn with workers serves from
child processes, whose CPU time is not in the parent's own counters while
they live. Peak RSS is the kernel's high-water mark (VmHWM), reset before a
cell by writing 5 to /proc/<pid>/clear_refs, so each cell gets its own peak.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # the command name is in parentheses and may hold spaces: split after it
    return raw[raw.rindex(")") + 2 :].split()


def descendants(pid: int) -> list[int]:
    """`pid`'s children, grandchildren and so on (not `pid` itself)."""
    parents: dict[int, list[int]] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def tree(pids: Iterable[int]) -> list[int]:
    """The given processes and all their descendants."""
    out: list[int] = []
    for pid in pids:
        out += [pid, *descendants(pid)]
    return out


def cpu_seconds(pids: Iterable[int]) -> float:
    """User plus system CPU time of the processes and all their descendants."""
    ticks = 0
    for pid in tree(pids):
        fields = _stat_fields(pid)
        if fields is not None:
            # utime and stime are fields 14 and 15 of stat; 12 and 13 after the name
            ticks += int(fields[11]) + int(fields[12])
    return ticks / _TICKS


def wait_idle(
    pids: Iterable[int], *, share: float = 0.03, step: float = 0.5, limit: float = 30.0
) -> None:
    """Wait until the processes use under `share` of a core over `step` s (`limit` s at most)."""
    pids = list(pids)
    deadline = time.monotonic() + limit
    before = cpu_seconds(pids)
    while time.monotonic() < deadline:
        time.sleep(step)
        after = cpu_seconds(pids)
        if after - before < share * step:
            return
        before = after


def _status_kib(pid: int, key: str) -> int:
    try:
        text = (_PROC / str(pid) / "status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def reset_peak_rss(pids: Iterable[int]) -> None:
    """Start a new high-water mark of resident memory for each process of the trees."""
    for pid in tree(pids):
        # on an older kernel the peak then covers the process's whole life
        with contextlib.suppress(OSError):
            (_PROC / str(pid) / "clear_refs").write_text("5")


def peak_rss_mb(pids: Iterable[int]) -> float:
    """Sum of the peak resident memory (VmHWM) of the processes of the trees, in MB."""
    return sum(_status_kib(pid, "VmHWM") for pid in tree(pids)) / 1024


def core_ticks() -> dict[str, tuple[int, int]]:
    """Per core (``"0"``, ``"1"``…): (busy ticks, all ticks) since boot, from /proc/stat."""
    out: dict[str, tuple[int, int]] = {}
    for line in (_PROC / "stat").read_text().splitlines():
        name, *values = line.split()
        if not name.startswith("cpu") or name == "cpu":
            continue
        ticks = [int(v) for v in values[:8]]  # user nice system idle iowait irq softirq steal
        idle = ticks[3] + ticks[4]
        out[name.removeprefix("cpu")] = (sum(ticks) - idle, sum(ticks))
    return out


def busy_share(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]], core: str
) -> float:
    """How busy `core` was between two `core_ticks` readings, 0 to 1 (whoever used it)."""
    busy = after[core][0] - before[core][0]
    total = after[core][1] - before[core][1]
    return busy / total if total else 0.0


def worker_count(pid: int) -> int:
    """How many multiprocessing children serve for `pid` (uvicorn's workers), 0 for none."""
    count = 0
    for child in descendants(pid):
        try:
            cmdline = (_PROC / str(child) / "cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            count += 1
    return count


def pin_database_backends(marker: str, cores: str) -> int:
    """Pin the PostgreSQL backends serving the bench's database (`marker` in their title).

    The server is a system service, not started by the bench: its backends
    would run on whichever core is free, the server's included. Pinned
    before each cell to the driver's core (a pool may have opened more
    connections since); the count of backends pinned.
    """
    cpus = {int(c) for c in cores.split(",")}
    pinned = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            title = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if not title.startswith(b"postgres:") or marker.encode() not in title:
            continue
        with contextlib.suppress(OSError):  # gone since, or not ours to move
            os.sched_setaffinity(int(entry), cpus)
            pinned += 1
    return pinned


@contextlib.contextmanager
def service_pinned(name: str, cores: str) -> Iterator[int]:
    """Pin every thread of the running processes called `name` to `cores`, restored after.

    For a service the machine runs and the bench only uses (Redis): like the
    database's backends, it must not run on the server's core. The count of
    processes pinned (0: none runs, or none is ours to move).
    """
    cpus = {int(c) for c in cores.split(",")}
    saved: dict[int, set[int]] = {}
    processes = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or _comm(int(entry)) != name:
            continue
        moved = False
        for task in _tasks(int(entry)):
            with contextlib.suppress(OSError):
                before = os.sched_getaffinity(task)
                os.sched_setaffinity(task, cpus)
                saved[task], moved = before, True
        processes += moved
    try:
        yield processes
    finally:
        for task, before in saved.items():
            with contextlib.suppress(OSError):  # the thread ended meanwhile
                os.sched_setaffinity(task, before)


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _tasks(pid: int) -> list[int]:
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []
