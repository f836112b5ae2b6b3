"""What the servers logged while they were measured: warnings are a sign the numbers flatter.

A server that falls back to a cheaper path (rate limits counted locally when
Redis refuses) or drops a connection says so in its log, not in its answers.
Each timed run notes the size of the target's log files before and counts
the warning and error lines written during the run, bar those that the end of
a wrk run causes (wrk closes its connections in the middle of answers).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

_MARKERS = (b"WARNING", b"ERROR", b"CRITICAL", b"Traceback", b'"level":"error"', b'"level":"warn"')
_END_OF_RUN = (b"broken pipe", b"connection reset by peer")


def sizes(paths: Iterable[Path]) -> dict[Path, int]:
    """The current size of each log file (0 for a missing one)."""
    return {path: path.stat().st_size if path.exists() else 0 for path in paths}


def warnings_since(before: dict[Path, int]) -> list[str]:
    """Warning and error lines appended to the files since `before` was taken."""
    found: list[str] = []
    for path, offset in before.items():
        with path.open("rb") as handle:
            handle.seek(offset)
            added = handle.read()
        for line in added.splitlines():
            if any(m in line for m in _MARKERS) and not any(e in line for e in _END_OF_RUN):
                found.append(line.decode(errors="replace")[:300])
    return found
