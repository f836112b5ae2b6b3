"""Delivering alert events: signed POSTs, retried with backoff, every attempt logged.

Each attempt POSTs the event's stored body with::

    content-type: application/json
    junction-event-id: <event id>
    junction-signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the secret>

A receiver recomputes the HMAC over the timestamp, a dot and the raw body,
compares in constant time, and refuses a timestamp far from its clock (a
replay). Any 2xx answer delivers the event; anything else (another status,
a redirect, which is never followed, a timeout, a refused address) is a
failed attempt, retried after ``backoff · 2^(n-1)`` seconds (capped, with
±20 % jitter, so receivers coming back up are not hit in step) until the
attempts run out. The answer's body is never read.

The host is resolved and every address checked against the egress rules
before each attempt, and the connection goes to the address that was
checked (`junction_contracts.egress`): a tenant's webhook cannot reach the
control plane's private network unless the operator allows it.

Several control processes may deliver at once: an event is claimed by one
conditional UPDATE (its due time moved past the attempt's timeout), so one
process makes each attempt. A process that dies mid-attempt leaves the
claim to lapse, and the event is tried again.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import Table, select, update

from junction_contracts.egress import Egress, EgressRefused, Resolver
from junction_control.alerts.models import AlertAttempt, AlertEvent
from junction_control.alerts.service import get_webhook, secret_of
from junction_control.alerts.settings import AlertSettings
from junction_control.crypto import Keyring
from junction_control.db import Database
from junction_control.errors import CryptoError

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "junction-signature"
EVENT_ID_HEADER = "junction-event-id"
USER_AGENT = "junction-webhooks/1"
# events claimed per pass
BATCH = 20
# a claimed attempt that never reported back is tried again this long after its timeout
_CLAIM_GRACE = timedelta(seconds=30)

_events: Table = AlertEvent.__table__  # type: ignore[attr-defined]
_e = _events.c


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``junction-signature`` header of `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def retry_delay(attempt: int, *, base: float, cap: float, rand: float) -> float:
    """Seconds to wait after failed attempt `attempt` (from 1); `rand` in [0, 1) jitters it."""
    return min(cap, base * 2.0 ** min(attempt - 1, 30)) * (0.8 + 0.4 * rand)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt ended: the receiver's status code, or the failure's class."""

    status_code: int | None = None
    error: str | None = None
    duration_ms: float = 0.0

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Deliverer:
    """Claims due events and makes their attempts (see the module docstring)."""

    def __init__(
        self,
        database: Database,
        keyring: Keyring,
        egress: Egress,
        settings: AlertSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._database = database
        self._keyring = keyring
        self._egress = egress
        self._settings = settings
        self._resolver = resolver
        self._clock = clock
        self._rand = rand
        self._client = httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,
            timeout=settings.webhook_timeout_seconds,
            trust_env=False,  # no proxy from the environment: the egress check is ours
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def deliver_due(self) -> int:
        """Make one attempt for each due event this process claims; how many were made."""
        made = 0
        for event_id in await self._claim():
            await self._attempt(event_id)
            made += 1
        return made

    async def _claim(self) -> list[str]:
        now = self._now()
        lease = now + timedelta(seconds=self._settings.webhook_timeout_seconds) + _CLAIM_GRACE
        claimed: list[str] = []
        async with self._database.session() as session:
            conn = await session.connection()
            due = await conn.execute(
                select(_e.id, _e.next_attempt_at)
                .where(_e.status == "pending", _e.next_attempt_at <= now)
                .order_by(_e.next_attempt_at, _e.id)
                .limit(BATCH)
            )
            for event_id, seen in due.all():
                # one process wins each event: the due time it saw must still be there
                won = await conn.execute(
                    update(_events)
                    .where(_e.id == event_id, _e.status == "pending", _e.next_attempt_at == seen)
                    .values(next_attempt_at=lease, attempts=_e.attempts + 1)
                )
                if won.rowcount == 1:
                    claimed.append(event_id)
            await session.commit()
        return claimed

    async def _attempt(self, event_id: str) -> None:
        async with self._database.session() as session:
            event = await session.get(AlertEvent, event_id, populate_existing=True)
            if event is None:  # the tenant was deleted meanwhile
                return
            webhook = await get_webhook(session, event.tenant_id)
            target = None if webhook is None or not webhook.enabled else webhook.url
            secret = None
            if webhook is not None and target is not None:
                try:
                    secret = secret_of(self._keyring, webhook)
                except CryptoError:
                    log.error("the webhook secret of tenant %s does not open", event.tenant_id)
            body, number = event.body.encode(), event.attempts
        if target is None:
            await self._finish(event_id, number, Outcome(error="webhook_disabled"), final=True)
            return
        if secret is None:
            outcome = Outcome(error="secret_unreadable")
        else:
            outcome = await self._post(target, event_id, secret, body)
        await self._finish(event_id, number, outcome)

    async def _post(self, url: str, event_id: str, secret: str, body: bytes) -> Outcome:
        started = time.monotonic()
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            EVENT_ID_HEADER: event_id,
            SIGNATURE_HEADER: signature(secret, int(self._clock()), body),
        }
        try:
            # the whole attempt, name lookup included, within one timeout
            async with asyncio.timeout(self._settings.webhook_timeout_seconds):
                pinned, extensions = await self._pinned(url, headers)
                async with self._client.stream(
                    "POST", pinned, content=body, headers=headers, extensions=extensions
                ) as response:
                    status = response.status_code  # the body is never read
        except EgressRefused:
            return Outcome(error="address_refused", duration_ms=_since(started))
        except (httpx.TimeoutException, TimeoutError):
            return Outcome(error="timeout", duration_ms=_since(started))
        except httpx.ConnectError:
            return Outcome(error="connect_error", duration_ms=_since(started))
        except httpx.RemoteProtocolError:
            return Outcome(error="protocol_error", duration_ms=_since(started))
        except (httpx.HTTPError, OSError):
            return Outcome(error="network_error", duration_ms=_since(started))
        return Outcome(status_code=status, duration_ms=_since(started))

    async def _pinned(self, url: str, headers: dict[str, str]) -> tuple[str, dict[str, object]]:
        """`url` with its host replaced by the checked address; Host and SNI keep the name."""
        target = self._egress.target(url)
        address = await self._egress.resolve(target.host, target.port, self._resolver)
        parts = urlsplit(url)
        host = f"[{address}]" if ":" in address else address
        headers["host"] = parts.netloc
        extensions: dict[str, object] = {}
        if target.scheme == "https":
            extensions["sni_hostname"] = target.host
        pinned = urlunsplit(
            (target.scheme, f"{host}:{target.port}", parts.path or "/", parts.query, "")
        )
        return pinned, extensions

    async def _finish(
        self, event_id: str, number: int, outcome: Outcome, *, final: bool = False
    ) -> None:
        now = self._now()
        retry_at = None
        if outcome.delivered:
            status = "delivered"
        elif final:
            status = "cancelled"
        elif number >= self._settings.webhook_max_attempts:
            status = "failed"
        else:
            status = "pending"
            wait = retry_delay(
                number,
                base=self._settings.webhook_backoff_seconds,
                cap=self._settings.webhook_max_backoff_seconds,
                rand=self._rand(),
            )
            retry_at = now + timedelta(seconds=wait)
        async with self._database.session() as session:
            session.add(
                AlertAttempt(
                    event_id=event_id,
                    number=number,
                    at=now,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    duration_ms=round(outcome.duration_ms, 3),
                    next_attempt_at=retry_at,
                )
            )
            conn = await session.connection()
            await conn.execute(
                update(_events)
                .where(_e.id == event_id)
                .values(
                    status=status,
                    next_attempt_at=retry_at,
                    finished_at=None if status == "pending" else now,
                )
            )
            await session.commit()
        what = outcome.status_code if outcome.error is None else outcome.error
        if outcome.delivered:
            log.info("alert %s delivered (attempt %d)", event_id, number)
        else:
            # the URL may carry a receiver's token: event id and outcome only
            log.warning("alert %s attempt %d failed (%s): %s", event_id, number, what, status)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)


def _since(started: float) -> float:
    return (time.monotonic() - started) * 1000.0
