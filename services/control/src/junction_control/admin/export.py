"""CSV downloads of the admin API: RFC 4180, streamed, and safe to open in a spreadsheet.

Rows are written by the `csv` module (CRLF line ends, quotes only where a
field needs them) and sent a page at a time, so an export of any size holds
one page in memory. Text that a spreadsheet would run as a formula (a cell
starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is
prefixed with ``'``; only text cells are, so negative amounts stay numbers.
Money is written as an exact decimal of at most nine places (nano-USD),
never as a float's noise (``0.30000000000000004``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal

from starlette.responses import StreamingResponse

CSV_MEDIA_TYPE = "text/csv"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NANO = Decimal("1e-9")
# enough digits for any finite float to nine places (the default 28 stop at 1e19)
_WIDE = Context(prec=400, rounding=ROUND_HALF_EVEN)

Cell = str | int


def text_cell(value: str | None) -> str:
    """Free text (names, notes, ids) as a cell no spreadsheet evaluates."""
    if value is None:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value


def usd_cell(value: float) -> str:
    """A USD amount as the exact decimal it stands for, to the nano-USD.

    The float's shortest text is the decimal it was written as (or summed to
    in nano-USD); rounding to nine places removes what float arithmetic added.
    """
    return _plain(Decimal(repr(float(value))).quantize(_NANO, context=_WIDE))


def nanos_cell(nanos: int) -> str:
    """A whole number of nano-USD as an exact USD decimal."""
    return _plain(Decimal(nanos).scaleb(-9))


def time_cell(value: datetime | None, timespec: str = "seconds") -> str:
    """A timestamp in ISO 8601, UTC, with a ``Z``, always to `timespec` (so text sorts as time)."""
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def _plain(amount: Decimal) -> str:
    text = format(amount.normalize(_WIDE), "f")
    return "0" if text in ("-0", "0") else text


def csv_response(
    filename: str, header: Sequence[str], pages: AsyncIterator[Sequence[Sequence[Cell]]]
) -> StreamingResponse:
    """A streamed ``text/csv`` attachment: `header`, then the rows of each page as it comes."""
    return StreamingResponse(
        _render(header, pages),
        media_type=CSV_MEDIA_TYPE,  # Starlette adds "; charset=utf-8" to text types
        headers={
            "content-disposition": f'attachment; filename="{filename}"',
            "cache-control": "no-store",
            "x-content-type-options": "nosniff",
        },
    )


async def _render(
    header: Sequence[str], pages: AsyncIterator[Sequence[Sequence[Cell]]]
) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    yield buffer.getvalue()
    async for rows in pages:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(rows)
        yield buffer.getvalue()
