"""Hourly rollups per provider and deployment, with latency and TTFT sums.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 00:00:00

Written by hand with portable types only, so it runs on SQLite and PostgreSQL.
`usage_hourly_routes` holds, per tenant, hour, model, token, provider and
deployment, what `usage_hourly` holds per tenant, hour, model and token, plus
the sums and counts of latency and time to first token; the rollup job
writes both from the same calls. The usage series read it over long ranges.

It is filled here so that it agrees with `usage_hourly` from the start: the
hours that still have calls are rolled from them (as the job would), and the
hours whose calls were pruned are copied from `usage_hourly`, with no
provider, deployment or latency (nothing records them any more). Hours the
job has not rolled yet, or whose calls changed since, are read from the raw
calls by the usage endpoints until the job rolls them, as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TOTALS = "calls, failed_calls, refused_calls, input_tokens, output_tokens, cached_input_tokens"
_COLUMNS = (
    f"tenant_id, hour, model, token_id, provider_id, deployment_id, {_TOTALS}, cost_usd, "
    "latency_ms_sum, latency_count, ttft_ms_sum, ttft_count"
)
# the start hour of a call, as the rollup job computes it (`usage.rollup.hour_of`)
_HOUR = {
    "postgresql": "timezone('UTC', date_trunc('hour', timezone('UTC', started_at)))",
    # SQLite keeps naive UTC text, microseconds included (`bulk.sqlite_time`)
    "sqlite": "strftime('%Y-%m-%d %H:00:00.000000', started_at)",
}
_BIG = {"postgresql": "BIGINT", "sqlite": "INTEGER"}
_REAL = {"postgresql": "DOUBLE PRECISION", "sqlite": "REAL"}


def _rolled_from_calls(dialect: str) -> str:
    hour = _HOUR[dialect]
    # cost summed in whole nano-USD, as the job does (`usage.rollup.nanos`)
    cost = (
        f"CAST(SUM(CAST(ROUND(cost_usd * 1000000000) AS {_BIG[dialect]})) AS {_REAL[dialect]})"
        " / 1000000000.0"
    )
    return f"""
        INSERT INTO usage_hourly_routes ({_COLUMNS})
        SELECT tenant_id, {hour}, model, token_id,
            COALESCE(provider_id, ''), COALESCE(deployment_id, ''),
            COUNT(*),
            SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END),
            SUM(CASE WHEN status = 'refused' THEN 1 ELSE 0 END),
            COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0),
            COALESCE(SUM(cached_input_tokens), 0),
            {cost},
            COALESCE(SUM(latency_ms), 0), COUNT(latency_ms),
            COALESCE(SUM(ttft_ms), 0), COUNT(ttft_ms)
        FROM model_calls
        GROUP BY tenant_id, {hour}, model, token_id,
            COALESCE(provider_id, ''), COALESCE(deployment_id, '')
    """  # noqa: S608 - constants of this module only


_PRUNED_HOURS = f"""
    INSERT INTO usage_hourly_routes ({_COLUMNS})
    SELECT tenant_id, hour, model, token_id, '', '', {_TOTALS}, cost_usd, 0, 0, 0, 0
    FROM usage_hourly AS u
    WHERE NOT EXISTS (
        SELECT 1 FROM usage_hourly_routes AS r
        WHERE r.tenant_id = u.tenant_id AND r.hour = u.hour
    )
"""  # noqa: S608 - constants of this module only


def _id(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.String(64), primary_key=True)


def upgrade() -> None:
    op.create_table(
        "usage_hourly_routes",
        sa.Column(
            "tenant_id",
            sa.String(36),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
        ),
        sa.Column("hour", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("model", sa.String(200), primary_key=True),
        _id("token_id"),
        _id("provider_id"),
        _id("deployment_id"),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("failed_calls", sa.Integer(), nullable=False),
        sa.Column("refused_calls", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cached_input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("latency_ms_sum", sa.Float(), nullable=False),
        sa.Column("latency_count", sa.Integer(), nullable=False),
        sa.Column("ttft_ms_sum", sa.Float(), nullable=False),
        sa.Column("ttft_count", sa.Integer(), nullable=False),
    )
    dialect = op.get_bind().dialect.name
    op.execute(_rolled_from_calls(dialect))
    op.execute(_PRUNED_HOURS)


def downgrade() -> None:
    op.drop_table("usage_hourly_routes")
