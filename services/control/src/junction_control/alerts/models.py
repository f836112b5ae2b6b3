"""The alert_webhooks, alert_events and alert_attempts tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from junction_control.columns import UtcDateTime, new_id, utcnow
from junction_control.crypto import EncryptedSecret

THRESHOLD_EVENT = "budget.threshold"
TEST_EVENT = "webhook.test"
EVENT_STATUSES: tuple[str, ...] = ("pending", "delivered", "failed", "cancelled")
DEFAULT_THRESHOLDS: tuple[int, ...] = (50, 80, 100)
URL_CHARS = 2000


class AlertWebhook(SQLModel, table=True):
    """Where a tenant's alerts go, and the secret they are signed with (encrypted at rest)."""

    __tablename__ = "alert_webhooks"
    __table_args__ = (UniqueConstraint("tenant_id", name="uq_alert_webhooks_tenant"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    tenant_id: str = Field(foreign_key="tenants.id", ondelete="CASCADE", max_length=36)
    url: str = Field(max_length=URL_CHARS)
    secret_ciphertext: str = Field(sa_column=Column(Text, nullable=False))
    secret_nonce: str = Field(max_length=32)
    wrapped_data_key: str = Field(max_length=128)
    key_version: str = Field(max_length=16)
    # percent of a budget's limit, ascending
    thresholds: list[int] = Field(sa_column=Column(JSON, nullable=False))
    enabled: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)

    @property
    def encrypted_secret(self) -> EncryptedSecret:
        """The stored envelope of the signing secret."""
        return EncryptedSecret(
            ciphertext=self.secret_ciphertext,
            nonce=self.secret_nonce,
            wrapped_data_key=self.wrapped_data_key,
            key_version=self.key_version,
        )

    def store_secret(self, secret: EncryptedSecret) -> None:
        """Keep the envelope `secret`."""
        self.secret_ciphertext = secret.ciphertext
        self.secret_nonce = secret.nonce
        self.wrapped_data_key = secret.wrapped_data_key
        self.key_version = secret.key_version


class AlertEvent(SQLModel, table=True):
    """One event to deliver, and where its delivery stands.

    A threshold event names its crossing (budget, period, threshold), and
    the unique constraint makes a crossing one event, however many control
    processes notice it. A test event leaves those columns NULL (NULLs never
    collide). `body` is the exact JSON sent on every attempt.
    """

    __tablename__ = "alert_events"
    __table_args__ = (
        UniqueConstraint(
            "budget_kind", "budget_id", "period_start", "threshold", name="uq_alert_events_crossing"
        ),
        Index("ix_alert_events_due", "status", "next_attempt_at"),
        Index("ix_alert_events_tenant_created", "tenant_id", "created_at"),
        CheckConstraint(
            "status IN ('pending', 'delivered', 'failed', 'cancelled')",
            name="ck_alert_events_status",
        ),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    tenant_id: str = Field(foreign_key="tenants.id", ondelete="CASCADE", max_length=36)
    type: str = Field(max_length=32)
    budget_kind: str | None = Field(default=None, max_length=16)
    budget_id: str | None = Field(default=None, max_length=36)
    # a lifetime budget's only period starts at the epoch
    period_start: datetime | None = Field(default=None, sa_type=UtcDateTime)
    threshold: int | None = Field(default=None)
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="pending", max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class AlertAttempt(SQLModel, table=True):
    """One try at delivering an event: the answer's status code or the error's class."""

    __tablename__ = "alert_attempts"
    __table_args__ = (
        UniqueConstraint("event_id", "number", name="uq_alert_attempts_event_number"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    event_id: str = Field(foreign_key="alert_events.id", ondelete="CASCADE", max_length=36)
    number: int
    at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    status_code: int | None = Field(default=None)
    # the failure's class (timeout, connect_error, …); None when the receiver answered
    error: str | None = Field(default=None, max_length=32)
    duration_ms: float = Field(default=0.0)
    # when the next try is due (None: none, delivered or given up)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
