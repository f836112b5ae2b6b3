"""Keyset pagination: pages ordered by (timestamp, id), with an opaque cursor.

The cursor names the last row of a page (its timestamp and id), so rows
added or removed meanwhile never shift a page: nothing is skipped or
repeated, even among rows written in the same instant.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from junction_control.admin.errors import ApiError
from junction_control.admin.schemas import PageQuery

Row = TypeVar("Row")


def encode_cursor(at: datetime, row_id: str) -> str:
    """The opaque cursor after a row with timestamp `at` and id `row_id`."""
    raw = json.dumps([at.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """(UTC timestamp, id) from a cursor; 400 naming `cursor` when it is not one of ours.

    The timestamp is converted to UTC here, so a crafted one the calendar
    cannot hold in UTC (``0001-01-01T00:00:00+14:00``) is refused as well.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at_text, row_id = json.loads(raw)
        at = datetime.fromisoformat(at_text)
        if not isinstance(row_id, str) or at.tzinfo is None:
            raise ValueError("bad cursor")
        at = at.astimezone(UTC)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, OverflowError):
        raise ApiError(
            400, "invalid_request", "cursor: not a cursor from this list", field="cursor"
        ) from None
    return at, row_id


async def keyset_page(
    session: AsyncSession,
    query: SelectOfScalar[Row],
    *,
    at: Any,
    row_id: Any,
    key: Callable[[Row], tuple[datetime, str]],
    page: PageQuery,
    descending: bool = False,
) -> tuple[Sequence[Row], str | None]:
    """One page of `query` ordered by (`at`, `row_id`), and the cursor of the next page."""
    if page.cursor is not None:
        last_at, last_id = decode_cursor(page.cursor)
        after: ColumnElement[bool]
        if descending:
            after = or_(at < last_at, and_(at == last_at, row_id < last_id))
        else:
            after = or_(at > last_at, and_(at == last_at, row_id > last_id))
        query = query.where(after)
    order = (at.desc(), row_id.desc()) if descending else (at.asc(), row_id.asc())
    result = await session.exec(query.order_by(*order).limit(page.limit + 1))
    rows: Sequence[Row] = list(result.all())
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    return rows, encode_cursor(*key(rows[-1]))
