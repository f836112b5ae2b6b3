"""Usage endpoints: per-model totals over a time range, and the list of model calls."""

from __future__ import annotations

from datetime import timedelta

from junction_control.admin.access import requires
from junction_control.admin.errors import ApiError, invalid_field
from junction_control.admin.pagination import decode_cursor, encode_cursor
from junction_control.admin.registry import Call, Router
from junction_control.admin.schemas import PageQuery
from junction_control.columns import utcnow
from junction_control.usage import service
from junction_control.usage.schemas import CallOut, CallPage, ModelUsageOut, UsageOut, UsageQuery

router = Router("usage")
DEFAULT_RANGE = timedelta(days=30)


@router.add(
    "GET",
    "/tenants/{tenant_id}/usage",
    summary="Per-model totals of the calls started in [since, until)",
    permission=requires("usage", "read"),
    query=UsageQuery,
    response=UsageOut,
)
async def usage_summary(call: Call) -> UsageOut:
    query = call.query(UsageQuery)
    until = query.until or utcnow()
    try:
        since = query.since or until - DEFAULT_RANGE
    except OverflowError:
        # the default range would start before the calendar does
        raise ApiError(
            400,
            "invalid_request",
            f"until: too early for the default range of {DEFAULT_RANGE.days} days; give since",
            field="until",
        ) from None
    if since >= until:
        raise invalid_field("since", "must be before until")
    rows = await service.usage_summary(call.session, call.access.tenant_id, since, until)
    return UsageOut(since=since, until=until, models=[ModelUsageOut.of(r) for r in rows])


@router.add(
    "GET",
    "/tenants/{tenant_id}/calls",
    summary="The tenant's model calls, newest first",
    permission=requires("calls", "read"),
    query=PageQuery,
    response=CallPage,
)
async def list_calls(call: Call) -> CallPage:
    page = call.query(PageQuery)
    before = None if page.cursor is None else service.CallCursor(*decode_cursor(page.cursor))
    rows = await service.list_calls(
        call.session, call.access.tenant_id, limit=page.limit + 1, before=before
    )
    next_cursor = None
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        next_cursor = encode_cursor(rows[-1].started_at, rows[-1].id)
    return CallPage(items=[CallOut.of(c) for c in rows], next_cursor=next_cursor)
