"""Budget alerts: one signed webhook per threshold per period, retried, every attempt logged.

The receiver is a real HTTP server on 127.0.0.1 (uvicorn in a thread) that
checks each signature itself; the budget job and the deliveries run at
instants the test names, so periods and backoffs pass without waiting.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from junction_contracts.egress import Egress
from junction_control.alerts import service as alerts
from junction_control.alerts.delivery import Deliverer, retry_delay
from junction_control.alerts.job import check_budgets_once
from junction_control.alerts.settings import AlertSettings
from junction_control.db import Database
from junction_control.errors import ConfigError
from junction_control.settings import ControlSettings
from junction_control.tenants import budgets
from junction_control.tenants import service as tenants
from junction_control.tokens import service as tokens
from tests.support.served import served

from .conftest import Person, add_person
from .test_budget_periods import BOUNDARY, NY, spend

DAY = 86_400.0
NOON = BOUNDARY + 7 * 3600  # noon in New York, 2026-01-15
SETTINGS = AlertSettings(
    settle_seconds=600, webhook_backoff_seconds=10, webhook_max_backoff_seconds=60
)
LATER = 80.0  # past any backoff of SETTINGS (60 s at most, plus 20 % of jitter)


@dataclass
class Receiver:
    """What the webhook receiver heard, and what it answers next."""

    secret: str = ""
    answers: list[int] = field(default_factory=list)
    heard: list[dict[str, object]] = field(default_factory=list)
    forged: int = 0
    stall: float = 0.0  # seconds to wait before answering

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            body = await request.body()
            stamp, _, mac = request.headers["junction-signature"].partition(",v1=")
            timestamp = stamp.removeprefix("t=")
            wanted = hmac.new(
                self.secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
            ).hexdigest()
            if not hmac.compare_digest(mac, wanted):
                self.forged += 1
                return Response(status_code=401)
            event = json.loads(body)
            assert request.headers["junction-event-id"] == event["id"]
            self.heard.append(event)
            await asyncio.sleep(self.stall)
            return Response(status_code=self.answers.pop(0) if self.answers else 204)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


Hook = tuple[Receiver, str]  # the receiver, and its URL


@pytest.fixture
def receiver() -> Iterator[Hook]:
    heard = Receiver()
    with served(heard.app()) as base_url:
        yield heard, f"{base_url}/hook"


@dataclass(frozen=True)
class Budgeted:
    tenant_id: str
    token_id: str


@pytest.fixture
async def budgeted(database: Database, settings: ControlSettings, receiver: Hook) -> Budgeted:
    """A tenant with a $1 daily key budget in New York and a webhook at the receiver."""
    heard, url = receiver
    async with database.session() as session:
        tenant = await tenants.create_tenant(session, "alerted")
        created = await tokens.create_token(
            session,
            tenant,
            "daily",
            tokens.TokenLimits(budget_usd=1.0, budget_period="daily", budget_timezone=NY),
        )
        webhook = await alerts.create_webhook(
            session, settings.keyring, settings.egress, tenant, url=url, user_id=None
        )
        # made today, the key noted today's period; the test lives in January 2026
        await session.exec(text("DELETE FROM budget_states"))  # type: ignore[call-overload]
        await session.commit()
    heard.secret = webhook.secret
    return Budgeted(tenant.id, created.token.id)


def deliverer(database: Database, settings: ControlSettings, now: list[float]) -> Deliverer:
    return Deliverer(
        database,
        settings.keyring,
        settings.egress,
        SETTINGS,
        clock=lambda: now[0],
        rand=lambda: 0.5,
    )


async def deliver(database: Database, settings: ControlSettings, now: float) -> int:
    sender = deliverer(database, settings, [now])
    try:
        return await sender.deliver_due()
    finally:
        await sender.aclose()


def thresholds_of(events: list[dict[str, object]]) -> list[object]:
    return [e["threshold"] for e in events]


async def test_each_threshold_is_sent_once_per_period_with_a_valid_signature(
    database: Database,
    settings: ControlSettings,
    budgeted: Budgeted,
    receiver: Hook,
) -> None:
    heard, _url = receiver
    await spend(database, budgeted.tenant_id, budgeted.token_id, 0.6, NOON)
    first = await check_budgets_once(database, SETTINGS, now=NOON + 60)
    again = await check_budgets_once(database, SETTINGS, now=NOON + 120)
    await spend(database, budgeted.tenant_id, budgeted.token_id, 0.45, NOON + 130)
    more = await check_budgets_once(database, SETTINGS, now=NOON + 180)
    delivered = await deliver(database, settings, NOON + 200)
    # the next day starts from nothing: no alert until it is spent again
    tomorrow = NOON + DAY
    quiet = await check_budgets_once(database, SETTINGS, now=tomorrow)
    await spend(database, budgeted.tenant_id, budgeted.token_id, 0.5, tomorrow + 10)
    fresh = await check_budgets_once(database, SETTINGS, now=tomorrow + 60)
    await deliver(database, settings, tomorrow + 70)

    assert (len(first.events), again.events, len(more.events)) == (1, [], 2)
    assert (delivered, quiet.events, len(fresh.events)) == (3, [], 1)
    assert heard.forged == 0
    assert sorted(thresholds_of(heard.heard[:3])) == [50, 80, 100]
    assert thresholds_of(heard.heard[3:]) == [50]
    event = next(e for e in heard.heard if e["threshold"] == 80)
    assert event["type"] == "budget.threshold"
    assert event["tenant_id"] == budgeted.tenant_id
    assert event["budget"] == {
        "kind": "key",
        "id": budgeted.token_id,
        "period": "daily",
        "limit_usd": 1.0,
        "spent_usd": pytest.approx(1.05),
        "period_start": "2026-01-15T05:00:00Z",
        "resets_at": "2026-01-16T05:00:00Z",
    }
    assert heard.heard[3]["budget"]["period_start"] == "2026-01-16T05:00:00Z"  # type: ignore[index]


async def test_two_control_processes_make_one_event_per_crossing(
    database: Database, settings: ControlSettings, budgeted: Budgeted
) -> None:
    await spend(database, budgeted.tenant_id, budgeted.token_id, 0.9, NOON)
    other = Database(database.url)  # a second replica: its own pool on the same database
    try:
        passes = await asyncio.gather(
            *(check_budgets_once(db, SETTINGS, now=NOON + 60) for db in (database, other) * 3)
        )
    finally:
        await other.dispose()

    assert sum(len(p.events) for p in passes) == 2  # 50 and 80, once each
    async with database.engine.connect() as conn:
        count = (await conn.execute(text("SELECT COUNT(*) FROM alert_events"))).scalar()
    assert count == 2


async def test_a_failing_receiver_is_retried_with_backoff_and_every_attempt_is_logged(
    admin: httpx.AsyncClient,
    database: Database,
    settings: ControlSettings,
    budgeted: Budgeted,
    receiver: Hook,
    owner: Person,
) -> None:
    heard, _url = receiver
    heard.answers = [500, 500, 200]
    await spend(database, budgeted.tenant_id, budgeted.token_id, 0.5, NOON)
    await check_budgets_once(database, SETTINGS, now=NOON + 60)

    now = [NOON + 60]
    sender = deliverer(database, settings, now)
    try:
        made = [await sender.deliver_due()]
        made.append(await sender.deliver_due())  # not due yet: backing off
        now[0] += LATER
        made.append(await sender.deliver_due())
        now[0] += LATER
        made.append(await sender.deliver_due())
        now[0] += LATER
        made.append(await sender.deliver_due())  # delivered: nothing left
    finally:
        await sender.aclose()

    assert made == [1, 0, 1, 1, 0]
    assert heard.forged == 0
    assert len(heard.heard) == 3
    assert len({e["id"] for e in heard.heard}) == 1  # the same event, three times
    log = await admin.get(f"/tenants/{budgeted.tenant_id}/alerts/deliveries", headers=owner.headers)
    assert log.status_code == 200
    (delivery,) = log.json()["items"]
    assert delivery["status"] == "delivered"
    attempts = delivery["attempts"]
    assert [a["status_code"] for a in attempts] == [500, 500, 200]
    assert [a["number"] for a in attempts] == [1, 2, 3]
    assert all(a["duration_ms"] >= 0 and a["error"] is None for a in attempts)
    retries = [datetime.fromisoformat(a["next_attempt_at"]) for a in attempts[:2]]
    tried = [datetime.fromisoformat(a["at"]) for a in attempts]
    # 10 s, then 20 s (the jitter is pinned to its middle)
    assert [(r - t).total_seconds() for r, t in zip(retries, tried, strict=False)] == [10, 20]
    assert attempts[2]["next_attempt_at"] is None


async def test_an_event_is_given_up_after_the_last_attempt(
    database: Database,
    settings: ControlSettings,
    budgeted: Budgeted,
    receiver: Hook,
) -> None:
    heard, _url = receiver
    heard.answers = [503] * 5
    await spend(database, budgeted.tenant_id, budgeted.token_id, 0.5, NOON)
    await check_budgets_once(database, SETTINGS, now=NOON)
    few = replace(SETTINGS, webhook_max_attempts=2)
    now = [NOON]
    sender = Deliverer(
        database, settings.keyring, settings.egress, few, clock=lambda: now[0], rand=lambda: 0.5
    )
    try:
        for _ in range(4):
            await sender.deliver_due()
            now[0] += LATER
    finally:
        await sender.aclose()
    async with database.engine.connect() as conn:
        status, attempts = (
            await conn.execute(text("SELECT status, attempts FROM alert_events"))
        ).one()
    assert (status, attempts, len(heard.heard)) == ("failed", 2, 2)


async def test_a_redirect_is_not_followed(
    database: Database,
    settings: ControlSettings,
    budgeted: Budgeted,
    receiver: Hook,
) -> None:
    heard, _url = receiver
    heard.answers = [307]
    await spend(database, budgeted.tenant_id, budgeted.token_id, 0.5, NOON)
    await check_budgets_once(database, SETTINGS, now=NOON)
    await deliver(database, settings, NOON)
    async with database.engine.connect() as conn:
        row = (await conn.execute(text("SELECT status_code FROM alert_attempts"))).one()
        status = (await conn.execute(text("SELECT status FROM alert_events"))).scalar()
    assert (row[0], status, len(heard.heard)) == (307, "pending", 1)


async def test_a_receiver_that_does_not_answer_in_time_is_a_timeout(
    database: Database, settings: ControlSettings, budgeted: Budgeted, receiver: Hook
) -> None:
    heard, _url = receiver
    heard.stall = 2.0
    await spend(database, budgeted.tenant_id, budgeted.token_id, 0.5, NOON)
    await check_budgets_once(database, SETTINGS, now=NOON)
    quick = replace(SETTINGS, webhook_timeout_seconds=0.2)
    sender = Deliverer(database, settings.keyring, settings.egress, quick, clock=lambda: NOON)
    try:
        await sender.deliver_due()
    finally:
        await sender.aclose()
    async with database.engine.connect() as conn:
        attempt = (await conn.execute(text("SELECT status_code, error FROM alert_attempts"))).one()
    assert tuple(attempt) == (None, "timeout")


async def test_a_tenant_budget_alerts_too(
    database: Database,
    settings: ControlSettings,
    budgeted: Budgeted,
    receiver: Hook,
) -> None:
    heard, _url = receiver
    async with database.session() as session:
        tenant = await tenants.get_tenant(session, "alerted")
        spec = budgets.BudgetSpec(2.0, "monthly", NY)
        await budgets.set_budget(session, tenant, spec, budgets.Actor(via="test"))
        await session.exec(text("DELETE FROM budget_states"))  # type: ignore[call-overload]
        await session.commit()
    await spend(database, budgeted.tenant_id, budgeted.token_id, 1.0, NOON)
    await check_budgets_once(database, SETTINGS, now=NOON + 60)
    await deliver(database, settings, NOON + 60)

    by_kind = {(e["budget"]["kind"], e["threshold"]) for e in heard.heard}  # type: ignore[index]
    assert by_kind == {("key", 50), ("key", 80), ("key", 100), ("tenant", 50)}
    tenant_event = next(e for e in heard.heard if e["budget"]["kind"] == "tenant")  # type: ignore[index]
    assert tenant_event["budget"]["period_start"] == "2026-01-01T05:00:00Z"  # type: ignore[index]


async def test_a_disabled_webhook_gets_no_alerts(
    database: Database, settings: ControlSettings, budgeted: Budgeted
) -> None:
    async with database.session() as session:
        webhook = await alerts.require_webhook(session, budgeted.tenant_id)
        await alerts.update_webhook(session, settings.egress, webhook, enabled=False, user_id=None)
        await session.commit()
    await spend(database, budgeted.tenant_id, budgeted.token_id, 0.9, NOON)
    quiet = await check_budgets_once(database, SETTINGS, now=NOON + 60)
    assert quiet.events == []


# --- the admin API -----------------------------------------------------------


@pytest.fixture
async def owner(database: Database, budgeted: Budgeted, password_hash: str) -> Person:
    async with database.session() as session:
        person = await add_person(
            session, "owner@alerted.test", password_hash, tenant_id=budgeted.tenant_id, role="owner"
        )
        await session.commit()
    return person


async def test_the_webhook_secret_is_shown_once_and_stored_encrypted(
    admin: httpx.AsyncClient,
    database: Database,
    settings: ControlSettings,
    budgeted: Budgeted,
    owner: Person,
    receiver: Hook,
) -> None:
    heard, url = receiver
    path = f"/tenants/{budgeted.tenant_id}/alerts/webhook"
    taken = await admin.post(path, json={"url": url}, headers=owner.headers)
    rotated = await admin.post(f"{path}/secret", headers=owner.headers)
    read = await admin.get(path, headers=owner.headers)
    changed = await admin.patch(path, json={"thresholds": [90, 25]}, headers=owner.headers)
    test = await admin.post(f"{path}/test", headers=owner.headers)
    heard.secret = rotated.json()["secret"]
    await deliver(database, settings, datetime.now(UTC).timestamp() + 1)
    delivery = await admin.get(
        f"/tenants/{budgeted.tenant_id}/alerts/deliveries/{test.json()['id']}",
        headers=owner.headers,
    )

    assert taken.status_code == 409  # one webhook per tenant
    secret = rotated.json()["secret"]
    assert secret.startswith("whsec_")
    assert "secret" not in read.json()
    assert changed.json()["thresholds"] == [25, 90]
    assert test.status_code == 202
    assert [e["type"] for e in heard.heard] == ["webhook.test"]
    assert heard.forged == 0
    assert delivery.json()["status"] == "delivered"
    async with database.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM alert_webhooks"))).all()
    assert secret not in repr([tuple(r) for r in rows])


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("http://169.254.169.254/latest/meta-data", "url"),
        ("http://0x7f000002/hook", "url"),
        ("https://user:secret@hooks.example.com/x", "url"),
        ("ftp://hooks.example.com/x", "url"),
        ("not a url", "url"),
    ],
)
async def test_a_webhook_url_the_egress_rules_refuse_is_a_422(
    admin: httpx.AsyncClient, budgeted: Budgeted, owner: Person, url: str, field: str
) -> None:
    path = f"/tenants/{budgeted.tenant_id}/alerts/webhook"
    refused = await admin.patch(path, json={"url": url}, headers=owner.headers)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["field"] == field
    assert "secret" not in error["message"]


@pytest.mark.parametrize("thresholds", [[], [0], [1001], list(range(1, 12))])
async def test_thresholds_out_of_range_are_a_422(
    admin: httpx.AsyncClient, budgeted: Budgeted, owner: Person, thresholds: list[int]
) -> None:
    path = f"/tenants/{budgeted.tenant_id}/alerts/webhook"
    refused = await admin.patch(path, json={"thresholds": thresholds}, headers=owner.headers)
    assert refused.status_code == 422
    assert refused.json()["error"]["field"].startswith("thresholds")


async def test_a_host_that_resolves_to_a_metadata_address_is_never_contacted(
    database: Database, settings: ControlSettings, budgeted: Budgeted
) -> None:
    async with database.session() as session:
        webhook = await alerts.require_webhook(session, budgeted.tenant_id)
        await alerts.update_webhook(
            session, Egress(), webhook, url="https://hooks.example.test/x", user_id=None
        )
        await session.commit()
    await spend(database, budgeted.tenant_id, budgeted.token_id, 0.5, NOON)
    await check_budgets_once(database, SETTINGS, now=NOON)

    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"a request went out to {request.url}")

    async def metadata(host: str, port: int) -> list[str]:
        return ["169.254.169.254"]

    sender = Deliverer(
        database,
        settings.keyring,
        Egress(),
        SETTINGS,
        transport=httpx.MockTransport(never),
        resolver=metadata,
        clock=lambda: NOON,
    )
    try:
        assert await sender.deliver_due() == 1
    finally:
        await sender.aclose()
    async with database.engine.connect() as conn:
        error = (await conn.execute(text("SELECT error FROM alert_attempts"))).scalar()
    assert error == "address_refused"


def test_the_backoff_doubles_up_to_its_cap_with_bounded_jitter() -> None:
    delays = [retry_delay(n, base=10, cap=100, rand=0.5) for n in range(1, 7)]
    assert delays == [10, 20, 40, 80, 100, 100]
    assert retry_delay(1, base=10, cap=100, rand=0.0) == 8
    assert retry_delay(1, base=10, cap=100, rand=0.999) < 12
    assert retry_delay(10_000, base=10, cap=100, rand=0.5) == 100


def test_the_webhook_settings_are_read_and_checked() -> None:
    env = {"JUNCTION_WEBHOOK_MAX_ATTEMPTS": "3", "JUNCTION_BUDGET_CHECK_SECONDS": "5"}
    read = AlertSettings.from_env(env)
    assert (read.webhook_max_attempts, read.check_seconds) == (3, 5.0)
    with pytest.raises(ConfigError, match="JUNCTION_WEBHOOK_TIMEOUT_SECONDS"):
        AlertSettings.from_env({"JUNCTION_WEBHOOK_TIMEOUT_SECONDS": "nan"})
    with pytest.raises(ConfigError, match="JUNCTION_WEBHOOK_MAX_ATTEMPTS"):
        AlertSettings.from_env({"JUNCTION_WEBHOOK_MAX_ATTEMPTS": "0"})
