"""Usage endpoints: per-model totals over a time range (JSON or CSV), and the model calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from starlette.responses import Response

from junction_contracts.periods import zone
from junction_control.admin.access import requires
from junction_control.admin.errors import ApiError, invalid_field, not_found
from junction_control.admin.export import CSV_MEDIA_TYPE, Cell, csv_response
from junction_control.admin.pagination import decode_cursor, encode_cursor
from junction_control.admin.registry import Call, Router
from junction_control.columns import utcnow
from junction_control.usage import export, series, series_schemas, service
from junction_control.usage.schemas import (
    CallDetailOut,
    CallOut,
    CallPage,
    CallQuery,
    ModelUsageOut,
    UsageOut,
    UsageQuery,
)
from junction_control.usage.series import Series
from junction_control.usage.series_schemas import SeriesOut, SeriesQuery

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
    since, until = _range(call.query(UsageQuery))
    rows = await service.usage_totals(
        call.session, call.access.tenant_id, since, until, retention=_retention(call)
    )
    return UsageOut(since=since, until=until, models=[ModelUsageOut.of(r) for r in rows])


@router.add(
    "GET",
    "/tenants/{tenant_id}/usage.csv",
    summary="The usage of [since, until) per hour, model and token, as a CSV download",
    permission=requires("usage", "read"),
    query=UsageQuery,
    produces=CSV_MEDIA_TYPE,
)
async def export_usage(call: Call) -> Response:
    since, until = _range(call.query(UsageQuery))
    tenant = call.access.current_tenant
    spans = await service.usage_spans(
        call.session, tenant.id, since, until, retention=_retention(call)
    )
    return csv_response(
        export.filename(tenant.name, since, until),
        export.HEADER,
        export.usage_pages(call.context.database, tenant.id, spans),
    )


def _range(query: UsageQuery) -> tuple[datetime, datetime]:
    """``[since, until)`` of the query: 30 days up to now unless it says otherwise."""
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
    return since, until


def _retention(call: Call) -> timedelta:
    # hours before the retention cut-off count from their rollups alone
    return timedelta(days=call.context.settings.call_retention_days)


@router.add(
    "GET",
    "/tenants/{tenant_id}/calls",
    summary="The tenant's model calls, newest first, with optional exact filters",
    permission=requires("calls", "read"),
    query=CallQuery,
    response=CallPage,
)
async def list_calls(call: Call) -> CallPage:
    page = call.query(CallQuery)
    before = None if page.cursor is None else service.CallCursor(*decode_cursor(page.cursor))
    if page.since is not None and page.until is not None and page.since >= page.until:
        raise invalid_field("since", "must be before until")
    where = service.CallFilter(
        status=page.status,
        model=page.model,
        token_id=page.token_id,
        deployment_id=page.deployment_id,
        request_id=page.request_id,
        since=page.since,
        until=page.until,
    )
    rows = await service.list_calls(
        call.session, call.access.tenant_id, limit=page.limit + 1, before=before, where=where
    )
    next_cursor = None
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        next_cursor = encode_cursor(rows[-1].started_at, rows[-1].id)
    return CallPage(items=[CallOut.of(c) for c in rows], next_cursor=next_cursor)


@router.add(
    "GET",
    "/tenants/{tenant_id}/calls/{call_id}",
    summary="One model call with its upstream attempts (deployment, outcome, status, duration)",
    permission=requires("calls", "read"),
    response=CallDetailOut,
)
async def call_detail(call: Call) -> CallDetailOut:
    found = await service.get_call(call.session, call.access.tenant_id, call.path("call_id"))
    if found is None:
        raise not_found("call")
    return CallDetailOut.of(found)


@router.add(
    "GET",
    "/tenants/{tenant_id}/usage/series",
    summary="Requests, errors, tokens, cost, mean latency and TTFT per bucket and group",
    permission=requires("usage", "read"),
    query=SeriesQuery,
    response=SeriesOut,
)
async def usage_series(call: Call) -> SeriesOut:
    query = call.query(SeriesQuery)
    since, until = _series_range(query)
    return SeriesOut.of(await _series(call, query, since, until), query, since, until)


@router.add(
    "GET",
    "/tenants/{tenant_id}/usage/series.csv",
    summary="The usage series as a CSV download: one row per bucket and group with calls",
    permission=requires("usage", "read"),
    query=SeriesQuery,
    produces=CSV_MEDIA_TYPE,
)
async def export_usage_series(call: Call) -> Response:
    query = call.query(SeriesQuery)
    since, until = _series_range(query)
    found = await _series(call, query, since, until)
    tenant = call.access.current_tenant
    name = export.filename(tenant.name, since, until)
    name = name.replace("usage-", f"usage-series-{query.by}-", 1)
    return csv_response(name, series_schemas.CSV_HEADER, _one_page(found))


def _series_range(query: SeriesQuery) -> tuple[datetime, datetime]:
    since, until = _range(query)
    count = series.bucket_count(since, until, query.bucket)
    if count > series.MAX_BUCKETS:
        raise ApiError(
            400,
            "too_many_buckets",
            f"the range holds {count} {query.bucket} buckets, more than {series.MAX_BUCKETS}: "
            "shorten it or use bucket=day",
            field="bucket",
        )
    return since, until


async def _series(call: Call, query: SeriesQuery, since: datetime, until: datetime) -> Series:
    tenant_id = call.access.tenant_id
    spans = await service.usage_spans(
        call.session, tenant_id, since, until, retention=_retention(call)
    )
    return await series.usage_series(
        await call.session.connection(),
        tenant_id,
        spans,
        since=since,
        until=until,
        bucket=query.bucket,
        by=query.by,
        tz=zone(query.tz),
    )


async def _one_page(found: Series) -> AsyncIterator[list[list[Cell]]]:
    yield list(series_schemas.csv_rows(found))
