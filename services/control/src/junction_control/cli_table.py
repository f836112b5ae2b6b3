"""Plain-text tables for the shell's reads: one header line, aligned columns."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TextIO, TypeVar

T = TypeVar("T")
MAX_CELL = 60


@dataclass(frozen=True, slots=True)
class Column(Generic[T]):
    """One column: its heading and how a row fills it."""

    heading: str
    cell: Callable[[T], object]


def cell_text(value: object) -> str:
    """A value as a table cell: dates to the minute, None as a dash, long text cut."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".") or "0"
    if isinstance(value, list | tuple):
        return ", ".join(cell_text(v) for v in value) or "-"
    text = " ".join(str(value).split())  # one line per row, whatever the value holds
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def print_table(
    rows: Sequence[T], columns: Sequence[Column[T]], out: TextIO, *, empty: str
) -> None:
    """`rows` under their headings, or the `empty` line when there are none."""
    if not rows:
        print(empty, file=out)
        return
    cells = [[c.heading.upper() for c in columns]]
    cells += [[cell_text(c.cell(row)) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    for line in cells:
        print(
            "  ".join(text.ljust(w) for text, w in zip(line, widths, strict=True)).rstrip(),
            file=out,
        )


def print_fields(pairs: Iterable[tuple[str, object]], out: TextIO) -> None:
    """``name: value`` lines, the names aligned."""
    items = [(name, cell_text(value)) for name, value in pairs]
    width = max((len(name) for name, _ in items), default=0)
    for name, text in items:
        print(f"{name + ':':<{width + 1}} {text}", file=out)
