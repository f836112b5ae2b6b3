"""Request and response bodies of the alert endpoints."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from junction_control.admin.schemas import Input, Page
from junction_control.alerts.models import (
    DEFAULT_THRESHOLDS,
    URL_CHARS,
    AlertAttempt,
    AlertEvent,
    AlertWebhook,
)
from junction_control.alerts.service import MAX_THRESHOLD, MAX_THRESHOLDS

Url = Annotated[str, Field(min_length=1, max_length=URL_CHARS)]
Thresholds = Annotated[
    list[Annotated[int, Field(ge=1, le=MAX_THRESHOLD)]],
    Field(min_length=1, max_length=MAX_THRESHOLDS),
]


class WebhookPatch(Input):
    """Fields of the webhook; one left out is kept."""

    url: Url | None = None
    thresholds: Thresholds | None = None
    enabled: bool | None = None


class WebhookIn(Input):
    """The tenant's webhook; the thresholds are percent of each budget's limit."""

    url: Url
    thresholds: Thresholds = Field(default_factory=lambda: list(DEFAULT_THRESHOLDS))
    enabled: bool = True


class WebhookOut(BaseModel):
    id: str
    url: str
    thresholds: list[int]
    enabled: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, webhook: AlertWebhook) -> WebhookOut:
        return cls(
            id=webhook.id,
            url=webhook.url,
            thresholds=list(webhook.thresholds),
            enabled=webhook.enabled,
            created_at=webhook.created_at,
            updated_at=webhook.updated_at,
        )


class WebhookSecret(WebhookOut):
    """The webhook with its signing secret: shown this once, never again."""

    secret: str

    @classmethod
    def with_secret(cls, webhook: AlertWebhook, secret: str) -> WebhookSecret:
        return cls(**WebhookOut.of(webhook).model_dump(), secret=secret)


class AttemptOut(BaseModel):
    number: int
    at: datetime
    #: the receiver's answer, or None when it gave none (then `error` says why)
    status_code: int | None
    error: str | None
    duration_ms: float
    next_attempt_at: datetime | None

    @classmethod
    def of(cls, attempt: AlertAttempt) -> AttemptOut:
        return cls(
            number=attempt.number,
            at=attempt.at,
            status_code=attempt.status_code,
            error=attempt.error,
            duration_ms=attempt.duration_ms,
            next_attempt_at=attempt.next_attempt_at,
        )


class DeliveryOut(BaseModel):
    """One event and its delivery: pending, delivered, failed (attempts ran out) or cancelled."""

    id: str
    type: str
    status: str
    event: dict[str, Any]
    next_attempt_at: datetime | None
    created_at: datetime
    finished_at: datetime | None
    attempts: list[AttemptOut]

    @classmethod
    def of(cls, event: AlertEvent, attempts: list[AlertAttempt]) -> DeliveryOut:
        return cls(
            id=event.id,
            type=event.type,
            status=event.status,
            event=json.loads(event.body),
            next_attempt_at=event.next_attempt_at,
            created_at=event.created_at,
            finished_at=event.finished_at,
            attempts=[AttemptOut.of(a) for a in attempts],
        )


DeliveryPage = Page[DeliveryOut]
