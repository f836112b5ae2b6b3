"""The query, the JSON body and the CSV rows of the usage series."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pydantic import BaseModel

from junction_control.admin.export import Cell, nanos_cell, text_cell, time_cell
from junction_control.budgets.schemas import TimeZone
from junction_control.usage.rollup import usd
from junction_control.usage.schemas import UsageQuery
from junction_control.usage.series import Bucket, Dimension, Figures, Series


class SeriesQuery(UsageQuery):
    """``?since=&until=&bucket=hour|day&by=model|token|provider|deployment&tz=``.

    The range is that of the usage totals (30 days up to now by default);
    `tz` (an IANA name) says where a day bucket begins.
    """

    bucket: Bucket = "hour"
    by: Dimension = "model"
    tz: TimeZone = "UTC"


class FiguresOut(BaseModel):
    """What calls add up to; latency and TTFT are means over the calls that reported one."""

    requests: int
    failed: int
    refused: int
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cost_usd: float
    #: failed over requests (refusals are counted apart); null without requests
    error_rate: float | None
    latency_ms_mean: float | None
    latency_count: int
    ttft_ms_mean: float | None
    ttft_count: int

    @classmethod
    def of(cls, f: Figures) -> FiguresOut:
        return cls(
            requests=f.requests,
            failed=f.failed,
            refused=f.refused,
            input_tokens=f.input_tokens,
            output_tokens=f.output_tokens,
            cached_input_tokens=f.cached_input_tokens,
            cost_usd=usd(f.cost_nanos),
            error_rate=f.error_rate,
            latency_ms_mean=f.latency_ms_mean,
            latency_count=f.latency_count,
            ttft_ms_mean=f.ttft_ms_mean,
            ttft_count=f.ttft_count,
        )


class PointOut(FiguresOut):
    """One bucket of one group (buckets without calls are left out)."""

    bucket: datetime


class GroupOut(BaseModel):
    """One group: a model name, or a token, provider or deployment id ('' for none: refused)."""

    key: str
    #: the token's, provider's or deployment's name, while it exists
    name: str | None
    total: FiguresOut
    points: list[PointOut]


class SeriesOut(BaseModel):
    """Figures per bucket of ``[since, until)`` and group, busiest group first."""

    since: datetime
    until: datetime
    bucket: Bucket
    by: Dimension
    tz: str
    #: how latency and TTFT are summarised: the mean (percentiles do not add up over hours)
    latency_statistic: str = "mean"
    #: every bucket start of the range, in UTC
    buckets: list[datetime]
    groups: list[GroupOut]

    @classmethod
    def of(cls, series: Series, query: SeriesQuery, since: datetime, until: datetime) -> SeriesOut:
        return cls(
            since=since,
            until=until,
            bucket=query.bucket,
            by=query.by,
            tz=query.tz,
            buckets=series.starts,
            groups=[
                GroupOut(
                    key=g.key,
                    name=g.name,
                    total=FiguresOut.of(g.total),
                    points=[
                        PointOut(bucket=series.starts[i], **FiguresOut.of(f).model_dump())
                        for i, f in sorted(g.points.items())
                    ],
                )
                for g in series.groups
            ],
        )


CSV_HEADER = (
    "bucket",
    "group",
    "name",
    "requests",
    "failed",
    "refused",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cost_usd",
    "error_rate",
    "latency_ms_mean",
    "ttft_ms_mean",
)


def csv_rows(series: Series) -> Iterator[list[Cell]]:
    """One row per bucket and group with calls, in time order, busiest group first."""
    order = {g.key: n for n, g in enumerate(series.groups)}
    cells = [
        (i, order[g.key], _cells(series.starts[i], g.key, g.name, f))
        for g in series.groups
        for i, f in g.points.items()
    ]
    for _, _, row in sorted(cells, key=lambda c: (c[0], c[1])):
        yield row


def _cells(at: datetime, key: str, name: str | None, f: Figures) -> list[Cell]:
    return [
        time_cell(at),
        text_cell(key),
        text_cell(name),
        f.requests,
        f.failed,
        f.refused,
        f.input_tokens,
        f.output_tokens,
        f.cached_input_tokens,
        nanos_cell(f.cost_nanos),
        _ratio(f.error_rate),
        _ratio(f.latency_ms_mean),
        _ratio(f.ttft_ms_mean),
    ]


def _ratio(value: float | None) -> str:
    return "" if value is None else repr(round(value, 6))
