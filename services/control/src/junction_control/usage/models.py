"""The model_calls table: one row per client call, from `processing` to its final state."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import BigInteger, CheckConstraint, Index, Text, false
from sqlmodel import Field, SQLModel

from junction_contracts.telemetry import CALL_STATUSES
from junction_control.columns import UtcDateTime, utcnow

CallStatus = Literal["processing", "success", "failed", "cancelled", "refused"]
PROCESSING = "processing"
# refused: the engine turned the call down before trying any provider; never billed
REFUSED = "refused"
# the statuses a `finished` event may set: the contract's
FINAL_STATUSES: tuple[str, ...] = CALL_STATUSES
# the error code the reaper writes; a row failed with it stays open to a late `finished`
STUCK = "stuck"

# column widths, shared with the checks ingest applies before writing
ID_CHARS = 64
TENANT_ID_CHARS = 36
MODEL_CHARS = 200
LABEL_CHARS = 32
ERROR_CODE_CHARS = 100
TRACE_ID_CHARS = 128
REQUEST_ID_CHARS = 128


class ModelCall(SQLModel, table=True):
    """One call the engine served (or tried to), keyed by the engine's call id.

    Routing ids (deployment, provider, credential) and the token id are plain
    strings: the call stays on record after the routing config or the token is
    changed or deleted. Cost is a float, like the prices it is computed from.
    """

    __tablename__ = "model_calls"
    __table_args__ = (
        # the tenant's call list and usage totals; also serves tenant_id lookups
        Index("ix_model_calls_tenant_started", "tenant_id", "started_at"),
        # the stuck-call reaper scans status = 'processing' by age
        Index("ix_model_calls_status_started", "status", "started_at"),
        # the hourly rollup and the retention prune scan by start time alone
        Index("ix_model_calls_started", "started_at"),
        CheckConstraint(
            "status IN ('processing', 'success', 'failed', 'cancelled', 'refused')",
            name="ck_model_calls_status",
        ),
    )

    id: str = Field(primary_key=True, max_length=ID_CHARS)
    tenant_id: str = Field(foreign_key="tenants.id", ondelete="CASCADE", max_length=TENANT_ID_CHARS)
    token_id: str = Field(index=True, max_length=ID_CHARS)
    model: str = Field(max_length=MODEL_CHARS)
    operation: str = Field(default="chat", max_length=LABEL_CHARS)
    client_protocol: str = Field(default="openai", max_length=LABEL_CHARS)
    stream: bool = Field(default=False)
    status: str = Field(default=PROCESSING, max_length=16)
    http_status: int | None = Field(default=None)
    error_code: str | None = Field(default=None, max_length=ERROR_CODE_CHARS)
    deployment_id: str | None = Field(default=None, max_length=ID_CHARS)
    provider_id: str | None = Field(default=None, max_length=ID_CHARS)
    credential_id: str | None = Field(default=None, max_length=ID_CHARS)
    attempts: int = Field(default=0)
    input_tokens: int = Field(default=0)
    output_tokens: int = Field(default=0)
    cached_input_tokens: int = Field(default=0)
    cache_write_input_tokens: int = Field(default=0)
    reasoning_tokens: int = Field(default=0)
    cost_usd: float = Field(default=0.0)
    latency_ms: float | None = Field(default=None)
    ttft_ms: float | None = Field(default=None)
    images: int = Field(default=0)
    image_size: str | None = Field(default=None, max_length=LABEL_CHARS)
    trace_id: str | None = Field(default=None, max_length=TRACE_ID_CHARS)
    started_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    # some token figures are the engine's estimate (the provider reported none), and
    # the answer was cut (last, where migration 0009 added the columns)
    usage_estimated: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    partial: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # the call's x-request-id (last, where migration 0014 added the column)
    request_id: str | None = Field(default=None, max_length=REQUEST_ID_CHARS)
    # the upstream attempts as the engine listed them, a JSON array (`AttemptNote`
    # dicts); NULL when none was made (last, where migration 0015 added the column)
    attempt_log: str | None = Field(default=None, sa_type=Text)

    @property
    def is_open(self) -> bool:
        """Whether a `finished` event may still set this call's outcome."""
        return is_open(self.status, self.error_code)


class UsageHour(SQLModel, table=True):
    """Totals of the calls that started in one UTC hour, per tenant, model and token.

    Written by the rollup job (`usage.rollup`) from model_calls, and kept when
    the retention prune deletes those calls.
    """

    __tablename__ = "usage_hourly"

    tenant_id: str = Field(
        primary_key=True, foreign_key="tenants.id", ondelete="CASCADE", max_length=TENANT_ID_CHARS
    )
    hour: datetime = Field(primary_key=True, sa_type=UtcDateTime)
    model: str = Field(primary_key=True, max_length=MODEL_CHARS)
    token_id: str = Field(primary_key=True, max_length=ID_CHARS)
    calls: int = Field(default=0)
    failed_calls: int = Field(default=0)
    input_tokens: int = Field(default=0, sa_type=BigInteger)
    output_tokens: int = Field(default=0, sa_type=BigInteger)
    cached_input_tokens: int = Field(default=0, sa_type=BigInteger)
    cost_usd: float = Field(default=0.0)
    # refused before any provider was tried: counted in `calls`, apart from failures
    # (last, where migration 0007 added the column)
    refused_calls: int = Field(default=0)


def is_open(status: str, error_code: str | None) -> bool:
    """Whether a call in this state still takes its `finished` event.

    Processing calls do; so do calls the reaper failed as stuck, because the
    engine's report is the truth and the reaper's verdict only a guess.
    """
    return status == PROCESSING or (status == "failed" and error_code == STUCK)


# `is_open` in SQL, on the model_calls row
OPEN_SQL = (
    f"(model_calls.status = '{PROCESSING}' OR "
    f"(model_calls.status = 'failed' AND model_calls.error_code = '{STUCK}'))"
)


class UsageRouteHour(SQLModel, table=True):
    """An hour's totals per tenant, model, token, provider and deployment, with latency sums.

    Written by the rollup job beside `UsageHour` and from the same calls, so
    its totals add up to that table's; it serves the usage series by provider
    and deployment, and the latency and time-to-first-token means, over long
    ranges. A call routed nowhere (refused) has ``''`` as provider and
    deployment. Latency and TTFT are kept as sums and counts of the calls
    that reported them, so a mean over any buckets is exact.
    """

    __tablename__ = "usage_hourly_routes"

    tenant_id: str = Field(
        primary_key=True, foreign_key="tenants.id", ondelete="CASCADE", max_length=TENANT_ID_CHARS
    )
    hour: datetime = Field(primary_key=True, sa_type=UtcDateTime)
    model: str = Field(primary_key=True, max_length=MODEL_CHARS)
    token_id: str = Field(primary_key=True, max_length=ID_CHARS)
    provider_id: str = Field(primary_key=True, max_length=ID_CHARS)
    deployment_id: str = Field(primary_key=True, max_length=ID_CHARS)
    calls: int = Field(default=0)
    failed_calls: int = Field(default=0)
    refused_calls: int = Field(default=0)
    input_tokens: int = Field(default=0, sa_type=BigInteger)
    output_tokens: int = Field(default=0, sa_type=BigInteger)
    cached_input_tokens: int = Field(default=0, sa_type=BigInteger)
    cost_usd: float = Field(default=0.0)
    latency_ms_sum: float = Field(default=0.0)
    latency_count: int = Field(default=0)
    ttft_ms_sum: float = Field(default=0.0)
    ttft_count: int = Field(default=0)
