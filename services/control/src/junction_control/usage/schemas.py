"""Response bodies (and the time-range query) of the usage and call endpoints."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from junction_control.admin.schemas import Page, PageQuery, UtcTime
from junction_control.usage.models import ModelCall
from junction_control.usage.service import ModelUsage

_PLAIN_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _midnight(value: object) -> object:
    # a plain date stands for 00:00 UTC of that day
    if isinstance(value, str) and _PLAIN_DATE.fullmatch(value):
        return value + "T00:00:00Z"
    return value


#: an ISO 8601 time with a zone, or a plain date (that day, 00:00 UTC)
TimeOrDate = Annotated[
    UtcTime,
    BeforeValidator(_midnight),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}]}
    ),
]


class UsageQuery(BaseModel):
    """``?since=&until=``: ISO 8601 times with a zone, or plain dates (00:00 UTC).

    The default is the 30 days before `until` (by default now); `until` is
    exclusive, so a plain date ends the range as that day begins.
    """

    model_config = ConfigDict(extra="ignore")

    since: TimeOrDate | None = None
    until: TimeOrDate | None = None


class ModelUsageOut(BaseModel):
    """One model's totals; `failed_calls` and `refused_calls` are counted in `calls`."""

    model: str
    calls: int
    failed_calls: int
    # turned down before any provider was tried: not a provider failure, never billed
    refused_calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float

    @classmethod
    def of(cls, usage: ModelUsage) -> ModelUsageOut:
        return cls(
            model=usage.model,
            calls=usage.calls,
            failed_calls=usage.failed_calls,
            refused_calls=usage.refused_calls,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cost_usd=usage.cost_usd,
        )


class UsageOut(BaseModel):
    """Per-model totals of the calls that started in ``[since, until)``."""

    since: datetime
    until: datetime
    models: list[ModelUsageOut]


class CallOut(BaseModel):
    id: str
    token_id: str
    model: str
    operation: str
    client_protocol: str
    stream: bool
    status: str
    http_status: int | None
    error_code: str | None
    deployment_id: str | None
    provider_id: str | None
    credential_id: str | None
    attempts: int
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    reasoning_tokens: int
    cost_usd: float
    latency_ms: float | None
    ttft_ms: float | None
    started_at: datetime
    finished_at: datetime | None
    #: the call's x-request-id, and the trace id of the client's traceparent
    request_id: str | None = None
    trace_id: str | None = None

    #: some token figures are the gateway's estimate; the answer was cut short
    usage_estimated: bool = False
    partial: bool = False

    @classmethod
    def of(cls, call: ModelCall) -> CallOut:
        return cls.model_validate(call, from_attributes=True)


CallPage = Page[CallOut]

CallStatusName = Literal["processing", "success", "failed", "cancelled", "refused"]


class CallQuery(PageQuery):
    """``?status=&model=&token_id=&deployment_id=&request_id=&since=&until=`` on a page of calls.

    Every filter is exact and they combine (AND); `since`/`until` bound the
    call's start like the usage range does (a plain date is 00:00 UTC).
    """

    status: CallStatusName | None = None
    model: str | None = Field(default=None, min_length=1, max_length=200)
    token_id: str | None = Field(default=None, min_length=1, max_length=64)
    deployment_id: str | None = Field(default=None, min_length=1, max_length=64)
    request_id: str | None = Field(default=None, min_length=1, max_length=128)
    since: TimeOrDate | None = None
    until: TimeOrDate | None = None


class AttemptOut(BaseModel):
    """One upstream attempt of a call, in the order they were made."""

    number: int
    deployment_id: str
    provider_id: str
    credential_id: str | None
    #: answered, failed (another deployment may serve: failed over), rejected (the
    #: provider's verdict on the request went back to the client) or cancelled
    outcome: str
    #: the provider's HTTP status; none when it never answered (timeout, refused connection)
    http_status: int | None
    error_code: str | None
    latency_ms: float


class CallDetailOut(CallOut):
    """One call with its upstream attempts (empty for calls recorded before attempts were)."""

    attempt_log: list[AttemptOut]

    @classmethod
    def of(cls, call: ModelCall) -> CallDetailOut:
        notes: list[dict[str, Any]] = orjson.loads(call.attempt_log) if call.attempt_log else []
        base = CallOut.of(call).model_dump()
        attempts = [AttemptOut(number=n, **note) for n, note in enumerate(notes, start=1)]
        return cls(**base, attempt_log=attempts)
