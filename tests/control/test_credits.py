"""Credits: each finished call charged once, grants by platform admins, balance = ledger."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from junction_control.audit.models import AuditEntry
from junction_control.cli import main
from junction_control.credits.models import CreditAccount, LedgerEntry
from junction_control.db import Database
from junction_control.settings import ControlSettings
from junction_control.tokens.models import UserToken
from junction_control.usage.ingest import ingest_events
from junction_control.usage.service import reap_stuck_calls

from .conftest import Demo, World
from .test_telemetry import counted, finished, refused, row, send, started

T = "/tenants/{}"


async def ledger(database: Database, tenant_id: str) -> list[LedgerEntry]:
    async with database.session() as session:
        result = await session.exec(
            select(LedgerEntry).where(LedgerEntry.tenant_id == tenant_id)  # type: ignore[arg-type]
        )
        return [row[0] for row in result.all()]  # type: ignore[index]


async def balance(database: Database, tenant_id: str) -> float:
    async with database.session() as session:
        account = await session.get(CreditAccount, tenant_id)
        return 0.0 if account is None else account.balance_usd


async def test_a_finished_call_is_charged_once_however_often_it_is_replayed(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    done = finished(demo, "c1", cost_usd=0.25)
    await send(internal_client, settings, [started(demo, "c1"), done])
    await send(internal_client, settings, [done])  # the same event again
    await send(internal_client, settings, [finished(demo, "c1", cost_usd=9.0)])  # a second one

    entries = await ledger(database, demo.tenant_id)
    assert [(e.kind, e.amount_usd, e.model_call_id) for e in entries] == [("charge", -0.25, "c1")]
    assert await balance(database, demo.tenant_id) == pytest.approx(-0.25)


async def test_calls_without_cost_and_open_calls_charge_nothing(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    await send(
        internal_client,
        settings,
        [started(demo, "open"), finished(demo, "free", cost_usd=0.0)],
    )

    assert await ledger(database, demo.tenant_id) == []
    assert await balance(database, demo.tenant_id) == 0.0


async def test_a_refused_call_is_never_charged_even_when_its_event_claims_a_cost(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    plain = await send(internal_client, settings, [refused(demo, "r1")])
    # a sender that prices a refusal breaks the contract: the event is malformed
    priced = await send(
        internal_client, settings, [started(demo, "r2"), refused(demo, "r2", cost_usd=0.5)]
    )
    async with database.session() as session:
        direct = await ingest_events(session, [refused(demo, "r3", cost_usd=0.5)])
        await session.commit()
        token = await session.get(UserToken, demo.token_id)

    assert plain.json() == counted(1, 0)
    assert priced.json() == counted(1, 0, rejected=1)
    assert (direct.accepted, direct.rejected) == (0, 1)
    r1, r2 = await row(database, "r1"), await row(database, "r2")
    assert r1 is not None
    assert (r1.status, r1.cost_usd) == ("refused", 0.0)
    assert r2 is not None
    assert r2.status == "processing"  # only its started event was taken
    assert await row(database, "r3") is None
    assert await ledger(database, demo.tenant_id) == []
    assert await balance(database, demo.tenant_id) == 0.0
    assert token is not None
    assert token.spent_usd == 0.0


async def test_overlapping_deliveries_charge_each_call_once_and_balance_is_the_ledger_sum(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    events = [started(demo, f"c{i:02}") for i in range(40)]
    events += [finished(demo, f"c{i:02}", cost_usd=0.01 * (i + 1)) for i in range(0, 40, 2)]
    reordered = list(reversed(events))

    await asyncio.gather(
        *(send(internal_client, settings, batch) for batch in (events, reordered, events))
    )

    entries = await ledger(database, demo.tenant_id)
    assert sorted(e.model_call_id or "" for e in entries) == [f"c{i:02}" for i in range(0, 40, 2)]
    expected = -sum(0.01 * (i + 1) for i in range(0, 40, 2))
    assert sum(e.amount_usd for e in entries) == pytest.approx(expected)
    assert await balance(database, demo.tenant_id) == pytest.approx(expected)


async def test_a_late_finished_after_the_reaper_charges_once(
    internal_client: httpx.AsyncClient, settings: ControlSettings, database: Database, demo: Demo
) -> None:
    await send(internal_client, settings, [started(demo, "slow")])
    async with database.session() as session:
        assert await reap_stuck_calls(session, older_than=timedelta(seconds=0)) == 1
        await session.commit()
    done = finished(demo, "slow", cost_usd=0.5)
    await send(internal_client, settings, [done])
    await send(internal_client, settings, [done])

    entries = await ledger(database, demo.tenant_id)
    assert [(e.amount_usd, e.model_call_id) for e in entries] == [(-0.5, "slow")]
    assert await balance(database, demo.tenant_id) == pytest.approx(-0.5)


async def test_platform_admins_grant_and_members_read(
    admin: httpx.AsyncClient, world: World, database: Database
) -> None:
    path = T.format(world.acme.tenant_id) + "/credits"
    body = {"amount_usd": 10.0, "note": "welcome"}

    granted = await admin.post(path + "/grants", json=body, headers=world["platform"].headers)
    by_owner = await admin.post(path + "/grants", json=body, headers=world["owner"].headers)
    by_admin = await admin.post(path + "/grants", json=body, headers=world["admin"].headers)
    by_outsider = await admin.post(path + "/grants", json=body, headers=world["outsider"].headers)
    read = {
        who: await admin.get(path, headers=world[who].headers)
        for who in ("owner", "admin", "member", "viewer", "outsider")
    }

    assert granted.status_code == 201, granted.text
    assert granted.json()["balance_usd"] == 10.0
    entry = granted.json()["entry"]
    assert (entry["kind"], entry["amount_usd"], entry["note"]) == ("grant", 10.0, "welcome")
    assert entry["created_by"] == world["platform"].user_id
    assert (by_owner.status_code, by_admin.status_code) == (403, 403)
    assert by_outsider.status_code == 404
    assert {who: r.status_code for who, r in read.items()} == {
        "owner": 200,
        "admin": 200,
        "member": 200,
        "viewer": 200,
        "outsider": 404,
    }
    assert read["viewer"].json()["balance_usd"] == 10.0
    assert [e["id"] for e in read["viewer"].json()["entries"]] == [entry["id"]]
    async with database.session() as session:
        audit = (
            await session.exec(select(AuditEntry).where(AuditEntry.object_id == entry["id"]))  # type: ignore[arg-type]
        ).all()
    assert [(a[0].action, a[0].user_id) for a in audit] == [  # type: ignore[index]
        ("credits.grant", world["platform"].user_id)
    ]


async def test_grants_are_validated_and_the_ledger_pages(
    admin: httpx.AsyncClient, world: World
) -> None:
    path = T.format(world.acme.tenant_id) + "/credits"
    headers = world["platform"].headers

    negative = await admin.post(path + "/grants", json={"amount_usd": -1}, headers=headers)
    for amount in (1.0, 2.0, -0.5):
        kind = "adjustment" if amount < 0 else "grant"
        answer = await admin.post(
            path + "/grants", json={"amount_usd": amount, "kind": kind}, headers=headers
        )
        assert answer.status_code == 201, answer.text
    first = await admin.get(path, params={"limit": 2}, headers=headers)
    second = await admin.get(
        path, params={"limit": 2, "cursor": first.json()["next_cursor"]}, headers=headers
    )

    assert negative.status_code == 422
    assert first.json()["balance_usd"] == pytest.approx(2.5)
    amounts = [e["amount_usd"] for e in first.json()["entries"] + second.json()["entries"]]
    assert amounts == [-0.5, 2.0, 1.0]
    assert second.json()["next_cursor"] is None


async def test_charges_and_grants_add_up_on_one_account(
    internal_client: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    settings: ControlSettings,
    database: Database,
    world: World,
) -> None:
    demo = world.acme
    await admin.post(
        T.format(demo.tenant_id) + "/credits/grants",
        json={"amount_usd": 5.0},
        headers=world["platform"].headers,
    )
    await send(internal_client, settings, [finished(demo, "c1", cost_usd=1.25)])

    entries = await ledger(database, demo.tenant_id)
    assert sorted(e.amount_usd for e in entries) == [-1.25, 5.0]
    assert await balance(database, demo.tenant_id) == pytest.approx(3.75)


def test_cli_grants_credit_and_audits_it(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tenant", "create", "acme"]) == 0
    assert main(["credits", "grant", "--tenant", "acme", "--amount", "12.5", "--note", "po-1"]) == 0
    assert main(["credits", "grant", "--tenant", "acme", "--amount", "-1"]) == 2
    assert main(["credits", "grant", "--tenant", "nope", "--amount", "1"]) == 2

    out = capsys.readouterr().out
    assert "balance 12.500000 USD" in out

    async def stored() -> tuple[list[tuple[str, float, str]], int]:
        settings = ControlSettings.from_env(environ=cli_env, env_file=None)
        database = Database(settings.database_url)
        try:
            async with database.session() as session:
                conn = await session.connection()
                rows = (
                    await conn.execute(
                        select(LedgerEntry.kind, LedgerEntry.amount_usd, LedgerEntry.note)
                    )  # type: ignore[call-overload]
                ).all()
                audits = (
                    await conn.execute(
                        select(func.count())
                        .select_from(AuditEntry)
                        .where(AuditEntry.action == "credits.grant")  # type: ignore[arg-type]
                    )
                ).scalar_one()
                return [tuple(r) for r in rows], int(audits)
        finally:
            await database.dispose()

    rows, audits = asyncio.run(stored())
    assert rows == [("grant", 12.5, "po-1")]
    assert audits == 1


async def test_billing_is_set_by_platform_admins_and_travels_in_the_route(
    internal_client: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    settings: ControlSettings,
    database: Database,
    world: World,
) -> None:
    from .test_resolve import resolve

    demo = world.acme
    path = T.format(demo.tenant_id) + "/credits"
    before = await resolve(internal_client, settings, demo.token_hash)
    assert before.token.billing == "postpaid"  # no account yet: served on credit
    by_owner = await admin.put(
        path + "/billing", json={"billing": "prepaid"}, headers=world["owner"].headers
    )
    assert by_owner.status_code == 403  # a tenant cannot choose how it is billed
    prepaid = await admin.put(
        path + "/billing", json={"billing": "prepaid"}, headers=world["platform"].headers
    )
    assert prepaid.status_code == 200
    assert prepaid.json() == {"billing": "prepaid", "credit_limit_usd": None, "balance_usd": 0.0}
    bad = await admin.put(
        path + "/billing",
        json={"billing": "prepaid", "credit_limit_usd": 5},
        headers=world["platform"].headers,
    )
    assert bad.status_code in (400, 422)  # a limit is for postpaid tenants
    await admin.post(path + "/grants", json={"amount_usd": 5.0}, headers=world["platform"].headers)
    await send(internal_client, settings, [finished(demo, "c1", cost_usd=1.25)])
    route = await resolve(internal_client, settings, demo.token_hash)
    assert route.token.billing == "prepaid"
    assert route.token.credit_granted_usd == pytest.approx(5.0)
    assert route.token.credit_charged_usd == pytest.approx(1.25)
    assert await balance(database, demo.tenant_id) == pytest.approx(3.75)
    read = await admin.get(path, headers=world["owner"].headers)
    assert read.json()["billing"] == "prepaid"
    async with database.session() as session:
        audit = (
            await session.exec(
                select(AuditEntry.action).where(AuditEntry.action == "credits.billing")  # type: ignore[arg-type]
            )
        ).all()
    assert len(audit) == 1


def test_cli_sets_billing_and_refuses_a_limit_on_prepaid(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tenant", "create", "acme"]) == 0
    assert main(["credits", "billing", "--tenant", "acme", "--mode", "prepaid"]) == 0
    assert "tenant acme is prepaid" in capsys.readouterr().out
    limited = ["credits", "billing", "--tenant", "acme", "--mode", "prepaid", "--credit-limit", "5"]
    assert main(limited) == 2
    assert "postpaid tenants only" in capsys.readouterr().err
    postpaid = [
        "credits",
        "billing",
        "--tenant",
        "acme",
        "--mode",
        "postpaid",
        "--credit-limit",
        "5",
    ]
    assert main(postpaid) == 0
    assert "credit limit 5.0 USD" in capsys.readouterr().out
