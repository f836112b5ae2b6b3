"""A tenant's alert webhook: where alerts go, the secret that signs them, the thresholds.

The signing secret is generated here and shown once (what `create_webhook`
and `rotate_secret` return); the row keeps it encrypted under the master
keyring, like a provider key (`crypto`), bound to the row's id. The URL
passes the egress guard provider URLs pass: http(s) only, no credentials in
it, no host written as a refused address; a host name is judged when the
delivery connects, against what it resolves to then (`alerts.delivery`).
Every write is audited in the caller's transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from junction_contracts.egress import Egress, EgressRefused
from junction_control.alerts.events import body_of_test_event
from junction_control.alerts.models import (
    DEFAULT_THRESHOLDS,
    TEST_EVENT,
    URL_CHARS,
    AlertAttempt,
    AlertEvent,
    AlertWebhook,
)
from junction_control.audit.service import record
from junction_control.columns import new_id, utcnow
from junction_control.crypto import Keyring, decrypt_secret, encrypt_secret, rewrap_secret
from junction_control.errors import Conflict, InvalidInput, NotFound
from junction_control.tenants.models import Tenant

SECRET_PREFIX = "whsec_"
MAX_THRESHOLDS = 10
MAX_THRESHOLD = 1000  # percent: alerts past the limit (an overdraft) are allowed


class InvalidField(InvalidInput):
    """A webhook field that is not acceptable, named for the admin API's 422."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class CreatedWebhook:
    """A stored webhook and its signing secret, which is shown once and never again."""

    webhook: AlertWebhook
    secret: str


def check_url(url: str, egress: Egress) -> str:
    """`url` if deliveries may go there, else InvalidField (the same words for every target)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > URL_CHARS:
        # the URL is not quoted: it may carry credentials
        raise InvalidField("url", "must be an absolute http:// or https:// URL")
    try:
        egress.check_literal(egress.target(url).host)
    except EgressRefused:
        raise InvalidField(
            "url",
            "the address is not allowed (public addresses only, unless "
            "JUNCTION_EGRESS_ALLOW lists it; and no credentials in the URL)",
        ) from None
    return url


def check_thresholds(values: Sequence[int]) -> list[int]:
    """Percentages of a budget's limit, deduplicated and ascending."""
    found = sorted(set(values))
    if not 1 <= len(found) <= MAX_THRESHOLDS:
        raise InvalidField("thresholds", f"must hold 1 to {MAX_THRESHOLDS} percentages")
    if any(isinstance(v, bool) or not 1 <= v <= MAX_THRESHOLD for v in found):
        raise InvalidField(
            "thresholds", f"each must be a whole percentage from 1 to {MAX_THRESHOLD}"
        )
    return found


async def get_webhook(session: AsyncSession, tenant_id: str) -> AlertWebhook | None:
    """The tenant's webhook, if it has one."""
    result = await session.exec(select(AlertWebhook).where(AlertWebhook.tenant_id == tenant_id))
    return result.first()


async def require_webhook(session: AsyncSession, tenant_id: str) -> AlertWebhook:
    """The tenant's webhook; NotFound when it has none."""
    webhook = await get_webhook(session, tenant_id)
    if webhook is None:
        raise NotFound("webhook not found")
    return webhook


async def create_webhook(
    session: AsyncSession,
    keyring: Keyring,
    egress: Egress,
    tenant: Tenant,
    *,
    url: str,
    thresholds: Sequence[int] = DEFAULT_THRESHOLDS,
    enabled: bool = True,
    user_id: str | None,
) -> CreatedWebhook:
    """Store the tenant's webhook with a fresh secret (flushed); Conflict if it has one."""
    if await get_webhook(session, tenant.id) is not None:
        raise Conflict("the tenant has a webhook already: change it, or delete it first")
    webhook = AlertWebhook(
        tenant_id=tenant.id,
        url=check_url(url, egress),
        secret_ciphertext="",
        secret_nonce="",
        wrapped_data_key="",
        key_version="",
        thresholds=check_thresholds(thresholds),
        enabled=enabled,
    )
    secret = _new_secret(keyring, webhook)
    session.add(webhook)
    await session.flush()
    await _audit(session, webhook, user_id, "alerts.webhook.create", thresholds=webhook.thresholds)
    return CreatedWebhook(webhook, secret)


async def update_webhook(
    session: AsyncSession,
    egress: Egress,
    webhook: AlertWebhook,
    *,
    url: str | None = None,
    thresholds: Sequence[int] | None = None,
    enabled: bool | None = None,
    user_id: str | None,
) -> None:
    """Change the given fields (flushed)."""
    changed = []
    if url is not None:
        webhook.url = check_url(url, egress)
        changed.append("url")
    if thresholds is not None:
        webhook.thresholds = check_thresholds(thresholds)
        changed.append("thresholds")
    if enabled is not None:
        webhook.enabled = enabled
        changed.append("enabled")
    webhook.updated_at = utcnow()
    session.add(webhook)
    await session.flush()
    await _audit(session, webhook, user_id, "alerts.webhook.update", fields=changed)


async def rotate_secret(
    session: AsyncSession, keyring: Keyring, webhook: AlertWebhook, *, user_id: str | None
) -> str:
    """Give the webhook a new secret (flushed) and return it, once; the old one stops signing."""
    secret = _new_secret(keyring, webhook)
    webhook.updated_at = utcnow()
    session.add(webhook)
    await session.flush()
    await _audit(session, webhook, user_id, "alerts.webhook.rotate_secret")
    return secret


async def delete_webhook(
    session: AsyncSession, webhook: AlertWebhook, *, user_id: str | None
) -> None:
    """Delete the webhook; events not yet delivered are cancelled when their turn comes."""
    await _audit(session, webhook, user_id, "alerts.webhook.delete")
    await session.delete(webhook)
    await session.flush()


def secret_of(keyring: Keyring, webhook: AlertWebhook) -> str:
    """The plain signing secret (to sign with only; never log it)."""
    return decrypt_secret(keyring, webhook.encrypted_secret, record_id=webhook.id)


async def rewrap_secrets(session: AsyncSession, keyring: Keyring) -> int:
    """Re-wrap every webhook secret not yet under the primary master key; the count changed."""
    primary = keyring.primary.version
    result = await session.exec(
        select(AlertWebhook).where(col(AlertWebhook.key_version) != primary)
    )
    changed = 0
    for webhook in result.all():
        webhook.store_secret(rewrap_secret(keyring, webhook.encrypted_secret, record_id=webhook.id))
        session.add(webhook)
        changed += 1
    await session.flush()
    return changed


async def queue_test_event(
    session: AsyncSession, webhook: AlertWebhook, *, user_id: str | None
) -> AlertEvent:
    """An event that says nothing but arrives like the others (flushed); Conflict if disabled."""
    if not webhook.enabled:
        raise Conflict("the webhook is disabled: enable it to send a test event")
    now = utcnow()
    event_id = new_id()
    event = AlertEvent(
        id=event_id,
        tenant_id=webhook.tenant_id,
        type=TEST_EVENT,
        body=body_of_test_event(event_id, webhook.tenant_id, now),
        next_attempt_at=now,
        created_at=now,
    )
    session.add(event)
    await session.flush()
    await _audit(session, webhook, user_id, "alerts.webhook.test", event_id=event_id)
    return event


def events_query(tenant_id: str) -> SelectOfScalar[AlertEvent]:
    """The tenant's events (the caller orders and pages)."""
    return select(AlertEvent).where(AlertEvent.tenant_id == tenant_id)


async def get_event(session: AsyncSession, tenant_id: str, event_id: str) -> AlertEvent:
    """One event of the tenant; NotFound otherwise (also for another tenant's)."""
    result = await session.exec(events_query(tenant_id).where(AlertEvent.id == event_id))
    event = result.first()
    if event is None:
        raise NotFound("delivery not found")
    return event


async def attempts_of(
    session: AsyncSession, event_ids: Sequence[str]
) -> dict[str, list[AlertAttempt]]:
    """Each event's attempts, in order."""
    found: dict[str, list[AlertAttempt]] = {e: [] for e in event_ids}
    if not event_ids:
        return found
    result = await session.exec(
        select(AlertAttempt)
        .where(col(AlertAttempt.event_id).in_(list(event_ids)))
        .order_by(col(AlertAttempt.event_id), col(AlertAttempt.number))
    )
    for attempt in result.all():
        found[attempt.event_id].append(attempt)
    return found


def _new_secret(keyring: Keyring, webhook: AlertWebhook) -> str:
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    # bound to the row's id: a ciphertext copied onto another row does not open
    webhook.store_secret(encrypt_secret(keyring, secret, record_id=webhook.id))
    return secret


async def _audit(
    session: AsyncSession,
    webhook: AlertWebhook,
    user_id: str | None,
    action: str,
    **details: object,
) -> None:
    # the URL may carry a receiver's token in its path: the trail names no URL
    await record(
        session,
        tenant_id=webhook.tenant_id,
        user_id=user_id,
        action=action,
        object_type="alert_webhook",
        object_id=webhook.id,
        details=details,
    )
