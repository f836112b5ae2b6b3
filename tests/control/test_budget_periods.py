"""Budget periods in the control plane: the spend of the current period, in routes and reads.

Calls are recorded through telemetry ingest with start times chosen by the
test, and routes are resolved at instants the test names, so periods are
crossed without waiting for them. A winter day in New York starts at 05:00 UTC.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from alembic import command
from sqlalchemy import bindparam, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection

from junction_contracts.periods import window_at
from junction_contracts.route import Route
from junction_contracts.sealing import derive_sealing_key
from junction_contracts.telemetry import CallEvent
from junction_control.audit.models import AuditEntry
from junction_control.budgets.spend import refresh_states
from junction_control.cli import main
from junction_control.columns import UtcDateTime
from junction_control.db import Database
from junction_control.internal.resolve import resolve_route
from junction_control.internal.sealed_keys import SealedKeys
from junction_control.migrations import alembic_config, upgrade
from junction_control.settings import ControlSettings
from junction_control.tenants import budgets
from junction_control.tenants import service as tenants
from junction_control.tokens import service as tokens
from junction_control.usage.ingest import ingest_events

from .conftest import Person, add_person

NY = "America/New_York"
BOUNDARY = datetime(2026, 1, 15, 5, 0, tzinfo=UTC).timestamp()  # midnight in New York
HOUR = 3600.0
SETTLE = 1200.0


@dataclass(frozen=True)
class Keys:
    """Tenant "budgets" with two keys: one with a daily budget in New York, one without."""

    tenant_id: str
    daily_id: str
    daily_hash: str
    plain_id: str
    plain_hash: str


@pytest.fixture
async def keys(database: Database) -> Keys:
    async with database.session() as session:
        tenant = await tenants.create_tenant(session, "budgets")
        daily = await tokens.create_token(
            session,
            tenant,
            "daily",
            tokens.TokenLimits(budget_usd=1.0, budget_period="daily", budget_timezone=NY),
        )
        plain = await tokens.create_token(session, tenant, "plain")
        # made today, they noted today's period; the tests live in January 2026
        await session.exec(text("DELETE FROM budget_states"))  # type: ignore[call-overload]
        await session.commit()
    return Keys(
        tenant.id,
        daily.token.id,
        daily.token.token_hash,
        plain.token.id,
        plain.token.token_hash,
    )


async def spend(
    database: Database, tenant_id: str, token_id: str, cost: float, started_at: float
) -> None:
    """Record one finished call of `token_id` that started at `started_at` and cost `cost`."""
    event = CallEvent(
        id=uuid.uuid4().hex,
        kind="finished",
        call_id=uuid.uuid4().hex,
        at=started_at + 1,
        tenant_id=tenant_id,
        token_id=token_id,
        model="chat",
        started_at=started_at,
        status="success",
        http_status=200,
        attempts=1,
        input_tokens=10,
        output_tokens=5,
        cost_usd=cost,
    )
    async with database.session() as session:
        result = await ingest_events(session, [event])
        await session.commit()
    assert result.accepted == 1


async def route_at(
    database: Database, settings: ControlSettings, token_hash: str, now: float
) -> Route:
    sealed = SealedKeys(settings.keyring, derive_sealing_key(settings.internal_secret))
    async with database.reader() as conn:
        found = await resolve_route(conn, token_hash, sealed_keys=sealed, now=now)
    assert found is not None
    return Route.from_dict(found.to_dict())  # what the engine reads


async def refresh(database: Database, now: float) -> int:
    async with database.session() as session:
        written = await refresh_states(await session.connection(), now=now, settle=SETTLE)
        await session.commit()
    return written


async def test_a_daily_budget_resets_at_the_period_boundary(
    database: Database, settings: ControlSettings, keys: Keys
) -> None:
    await spend(database, keys.tenant_id, keys.daily_id, 0.30, BOUNDARY - HOUR)
    before = await route_at(database, settings, keys.daily_hash, BOUNDARY - 1)
    at_midnight = await route_at(database, settings, keys.daily_hash, BOUNDARY)
    await spend(database, keys.tenant_id, keys.daily_id, 0.20, BOUNDARY + 600)
    after = await route_at(database, settings, keys.daily_hash, BOUNDARY + 700)

    assert before.token.spent_usd == pytest.approx(0.30)
    assert before.token.budget_window is not None
    assert before.token.budget_window.end == BOUNDARY
    assert at_midnight.token.spent_usd == 0.0
    assert after.token.spent_usd == pytest.approx(0.20)
    assert after.token.budget_window == window_at("daily", NY, BOUNDARY)
    assert (after.token.budget_window.start, after.token.budget_usd) == (BOUNDARY, 1.0)


async def test_the_state_row_gives_the_same_spend_as_summing_the_calls(
    database: Database, settings: ControlSettings, keys: Keys
) -> None:
    await spend(database, keys.tenant_id, keys.daily_id, 0.30, BOUNDARY - HOUR)
    assert await refresh(database, BOUNDARY - 60) == 1  # yesterday's state
    # the new period has no state yet: its calls are summed
    summed = await route_at(database, settings, keys.daily_hash, BOUNDARY + 10)
    await spend(database, keys.tenant_id, keys.daily_id, 0.25, BOUNDARY + 60)
    assert await refresh(database, BOUNDARY + 120) == 1  # today's state
    await spend(database, keys.tenant_id, keys.daily_id, 0.125, BOUNDARY + 180)
    stated = await route_at(database, settings, keys.daily_hash, BOUNDARY + 240)

    assert summed.token.spent_usd == 0.0
    # 0.25 read in the state, 0.125 added by ingest since
    assert stated.token.spent_usd == pytest.approx(0.375)
    async with database.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT kind, budget_id FROM budget_states"))).all()
    assert [tuple(r) for r in rows] == [("key", keys.daily_id)]


async def test_a_late_cost_of_yesterday_counts_in_yesterday_while_the_period_settles(
    database: Database, settings: ControlSettings, keys: Keys
) -> None:
    await spend(database, keys.tenant_id, keys.daily_id, 0.10, BOUNDARY + 60)
    await refresh(database, BOUNDARY + 120)
    # a call that started before midnight is reported after it
    await spend(database, keys.tenant_id, keys.daily_id, 0.40, BOUNDARY - 30)
    await refresh(database, BOUNDARY + 300)
    settled = await route_at(database, settings, keys.daily_hash, BOUNDARY + 310)
    # past the settle time the state stays: a later report errs towards more spend
    await refresh(database, BOUNDARY + SETTLE + 1)
    await spend(database, keys.tenant_id, keys.daily_id, 0.05, BOUNDARY - 20)
    await refresh(database, BOUNDARY + SETTLE + 60)
    late = await route_at(database, settings, keys.daily_hash, BOUNDARY + SETTLE + 61)

    assert settled.token.spent_usd == pytest.approx(0.10)
    assert late.token.spent_usd == pytest.approx(0.15)


async def test_a_lifetime_budget_counts_every_call_as_before(
    database: Database, settings: ControlSettings, keys: Keys
) -> None:
    async with database.session() as session:
        token = await tokens.find_token_by_hash(session, keys.plain_hash)
        assert token is not None
        await tokens.update_limits(session, token, tokens.TokenLimits(budget_usd=2.0))
        await session.commit()
    await spend(database, keys.tenant_id, keys.plain_id, 0.5, BOUNDARY - 40 * 86_400)
    await spend(database, keys.tenant_id, keys.plain_id, 0.25, BOUNDARY)

    route = await route_at(database, settings, keys.plain_hash, BOUNDARY + 1)

    assert (route.token.spent_usd, route.token.budget_window) == (pytest.approx(0.75), None)


async def test_a_tenant_budget_counts_every_key_of_the_tenant_in_its_month(
    database: Database, settings: ControlSettings, keys: Keys
) -> None:
    async with database.session() as session:
        tenant = await tenants.get_tenant(session, "budgets")
        spec = budgets.BudgetSpec(10.0, "monthly", "UTC")
        await budgets.set_budget(session, tenant, spec, budgets.Actor(via="test"))
        await session.exec(text("DELETE FROM budget_states"))  # type: ignore[call-overload]
        await session.commit()
    january = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    await spend(database, keys.tenant_id, keys.daily_id, 4.0, january - 60)  # December
    await refresh(database, january - 30)
    december = await route_at(database, settings, keys.plain_hash, january - 1)
    await spend(database, keys.tenant_id, keys.daily_id, 1.5, january + 60)
    await spend(database, keys.tenant_id, keys.plain_id, 2.25, january + 120)
    await refresh(database, january + 180)

    for token_hash in (keys.daily_hash, keys.plain_hash):
        route = await route_at(database, settings, token_hash, january + 240)
        assert route.token.tenant_budget_usd == 10.0
        assert route.token.tenant_spent_usd == pytest.approx(3.75)
        window = route.token.tenant_budget_window
        assert window is not None
        assert (window.period, window.start) == ("monthly", january)
    assert december.token.tenant_spent_usd == pytest.approx(4.0)


# --- the admin API -----------------------------------------------------------


@pytest.fixture
async def owner(database: Database, keys: Keys, password_hash: str) -> Person:
    async with database.session() as session:
        person = await add_person(
            session, "owner@budgets.test", password_hash, tenant_id=keys.tenant_id, role="owner"
        )
        await session.commit()
    return person


def _now_in_period(period: str, zone: str) -> tuple[float, float]:
    """(start of the current period, an instant in it that has passed)."""
    now = time.time()
    window = window_at(period, zone, now)  # type: ignore[arg-type]
    return window.start, max(window.start, now - 60)


async def test_the_admin_read_shows_the_spend_of_the_current_period_and_its_reset(
    admin: httpx.AsyncClient, database: Database, keys: Keys, owner: Person
) -> None:
    start, earlier = _now_in_period("daily", NY)
    await spend(database, keys.tenant_id, keys.daily_id, 0.5, start - HOUR)  # yesterday
    await spend(database, keys.tenant_id, keys.daily_id, 0.125, earlier)

    path = f"/tenants/{keys.tenant_id}/tokens/{keys.daily_id}"
    got = (await admin.get(path, headers=owner.headers)).json()
    listed = (await admin.get(f"/tenants/{keys.tenant_id}/tokens", headers=owner.headers)).json()

    window = window_at("daily", NY, time.time())
    assert got["budget_period"] == "daily"
    assert got["budget_timezone"] == NY
    assert got["spent_usd"] == pytest.approx(0.125)
    assert datetime.fromisoformat(got["period_start"]).timestamp() == window.start
    assert datetime.fromisoformat(got["resets_at"]).timestamp() == window.end
    by_name = {t["name"]: t for t in listed["items"]}
    assert by_name["daily"]["spent_usd"] == pytest.approx(0.125)
    assert (by_name["plain"]["period_start"], by_name["plain"]["resets_at"]) == (None, None)


async def test_a_token_period_is_changed_over_the_api_and_audited(
    admin: httpx.AsyncClient, database: Database, keys: Keys, owner: Person
) -> None:
    path = f"/tenants/{keys.tenant_id}/tokens/{keys.plain_id}"
    body = {"budget_usd": 3, "budget_period": "weekly", "budget_timezone": "Asia/Tokyo"}
    changed = await admin.patch(path, json=body, headers=owner.headers)

    assert changed.status_code == 200
    window = window_at("weekly", "Asia/Tokyo", time.time())
    out = changed.json()
    assert (out["budget_period"], out["budget_timezone"]) == ("weekly", "Asia/Tokyo")
    assert datetime.fromisoformat(out["resets_at"]).timestamp() == window.end
    async with database.session() as session:
        rows = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "token.update"))  # type: ignore[call-overload]
        ).all()
    assert [sorted(r[0].details["fields"]) for r in rows] == [
        ["budget_period", "budget_timezone", "budget_usd"]
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"budget_timezone": "Mars/Olympus"}, "budget_timezone"),
        ({"budget_timezone": "../../etc/passwd"}, "budget_timezone"),
        ({"budget_timezone": ""}, "budget_timezone"),
        ({"budget_period": "hourly"}, "budget_period"),
        ({"budget_period": None}, "budget_period"),
    ],
)
async def test_a_bad_period_or_time_zone_is_a_422_naming_the_field(
    admin: httpx.AsyncClient, keys: Keys, owner: Person, body: dict[str, object], field: str
) -> None:
    path = f"/tenants/{keys.tenant_id}/tokens/{keys.plain_id}"
    refused = await admin.patch(path, json=body, headers=owner.headers)
    created = await admin.post(
        f"/tenants/{keys.tenant_id}/tokens", json={"name": "new", **body}, headers=owner.headers
    )
    budget = await admin.put(
        f"/tenants/{keys.tenant_id}/budget",
        json={"limit_usd": 5, **{k.removeprefix("budget_"): v for k, v in body.items()}},
        headers=owner.headers,
    )

    for response, name in ((refused, field), (created, field), (budget, field[7:])):
        assert response.status_code == 422
        error = response.json()["error"]
        assert (error["code"], error["field"]) == ("invalid_request", name)


async def test_the_tenant_budget_is_set_read_and_lifted_over_the_api(
    admin: httpx.AsyncClient, database: Database, keys: Keys, owner: Person
) -> None:
    path = f"/tenants/{keys.tenant_id}/budget"
    start, earlier = _now_in_period("monthly", "Europe/Paris")
    await spend(database, keys.tenant_id, keys.daily_id, 1.0, start - HOUR)  # last month
    await spend(database, keys.tenant_id, keys.plain_id, 0.75, earlier)

    missing = await admin.get(path, headers=owner.headers)
    body = {"limit_usd": 50, "period": "monthly", "timezone": "Europe/Paris"}
    put = await admin.put(path, json=body, headers=owner.headers)
    read = await admin.get(path, headers=owner.headers)
    lifted = await admin.delete(path, headers=owner.headers)
    gone = await admin.get(path, headers=owner.headers)

    assert missing.status_code == 404
    assert put.status_code == 200
    got = read.json()
    assert (got["limit_usd"], got["period"], got["timezone"]) == (50.0, "monthly", "Europe/Paris")
    assert got["spent_usd"] == pytest.approx(0.75)
    assert datetime.fromisoformat(got["period_start"]).timestamp() == start
    assert (lifted.status_code, gone.status_code) == (204, 404)
    async with database.session() as session:
        rows = (
            await session.exec(
                select(AuditEntry.action).where(AuditEntry.object_type == "tenant_budget")  # type: ignore[call-overload]
            )
        ).all()
    assert sorted(r[0] for r in rows) == ["tenant.budget.delete", "tenant.budget.set"]


# --- the CLI and apply -f ----------------------------------------------------


def test_the_cli_sets_key_and_tenant_budget_periods(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["tenant", "create", "shell"]) == 0
    created = main(
        [
            "token",
            "create",
            "--tenant",
            "shell",
            "--name",
            "k",
            "--budget-usd",
            "5",
            "--budget-period",
            "daily",
            "--budget-timezone",
            "Europe/Paris",
            "--expires-in-days",
            "30",
        ]
    )
    budget = main(
        ["tenant", "budget", "shell", "--usd", "20", "--period", "weekly", "--timezone", NY]
    )
    unknown = main(["tenant", "budget", "shell", "--usd", "20", "--timezone", "Nowhere/City"])
    out = capsys.readouterr()

    assert (created, budget, unknown) == (0, 0, 2)
    assert "budget of 20.00 USD weekly (America/New_York)" in out.out
    assert "unknown time zone 'Nowhere/City'" in out.err

    async def stored() -> tuple[tuple[object, ...], tuple[object, ...]]:
        database = Database(ControlSettings.from_env(env_file=None).database_url)
        try:
            async with database.engine.connect() as conn:
                token = (
                    await conn.execute(
                        text("SELECT budget_period, budget_timezone, expires_at FROM user_tokens")
                    )
                ).one()
                tenant = (
                    await conn.execute(
                        text("SELECT limit_usd, period, timezone FROM tenant_budgets")
                    )
                ).one()
        finally:
            await database.dispose()
        return tuple(token), tuple(tenant)

    token_row, tenant_row = asyncio.run(stored())
    assert token_row[:2] == ("daily", "Europe/Paris")
    assert token_row[2] is not None  # --expires-in-days kept the period options
    assert tenant_row == (20.0, "weekly", NY)


def test_apply_declares_budget_periods_idempotently(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = tmp_path / "junction.yaml"
    spec.write_text(
        "tenants:\n"
        "  - name: declared\n"
        "    budget: {limit_usd: 100, period: monthly, timezone: Europe/Paris}\n"
        "    tokens:\n"
        "      - name: k\n"
        "        budget_usd: 5\n"
        "        budget_period: daily\n"
        "        budget_timezone: America/New_York\n"
    )
    first = main(["apply", "-f", str(spec)])
    first_out = capsys.readouterr().out
    second = main(["apply", "-f", str(spec)])
    second_out = capsys.readouterr().out
    spec.write_text(spec.read_text().replace("Europe/Paris", "Mars/Olympus"))
    bad = main(["apply", "-f", str(spec)])
    bad_err = capsys.readouterr().err

    assert (first, second, bad) == (0, 0, 2)
    assert "budget declared: created" in first_out
    assert "nothing changed" in second_out
    assert "tenants[0].budget: timezone: unknown time zone 'Mars/Olympus'" in bad_err


# --- the migration -----------------------------------------------------------


async def test_existing_key_budgets_stay_lifetime_budgets_across_the_upgrade(
    settings: ControlSettings,
) -> None:
    database = Database(settings.database_url)
    insert_key = text(
        "INSERT INTO user_tokens (id, tenant_id, name, prefix, token_hash, budget_usd, "
        "spent_usd, created_at) VALUES ('k', :tenant, 'old', 'jk-old', :hash, 5, 1.5, :at)"
    ).bindparams(bindparam("at", type_=UtcDateTime))
    try:
        await upgrade(database.engine, "0009")
        async with database.session() as session:
            tenant = await tenants.create_tenant(session, "before")
            await session.commit()
        async with database.engine.begin() as conn:
            await conn.execute(
                insert_key, {"tenant": tenant.id, "hash": "f" * 64, "at": datetime.now(UTC)}
            )
        await upgrade(database.engine)
        async with database.engine.connect() as conn:
            upgraded = (
                await conn.execute(
                    text(
                        "SELECT budget_usd, spent_usd, budget_period, budget_timezone "
                        "FROM user_tokens"
                    )
                )
            ).one()
        await _downgrade(database, "0009")
        async with database.engine.connect() as conn:
            kept = (await conn.execute(text("SELECT * FROM user_tokens"))).one()
            tables = await conn.run_sync(lambda c: sa_inspect(c).get_table_names())
    finally:
        await database.dispose()

    assert tuple(upgraded) == (5.0, 1.5, "lifetime", "UTC")
    assert "budget_period" not in kept._fields
    assert not {"tenant_budgets", "budget_states", "alert_events"} & set(tables)


async def _downgrade(database: Database, revision: str) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with database.engine.begin() as conn:
        await conn.run_sync(run)
