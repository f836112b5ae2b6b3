"""Upgrading a database that holds data: rows survive, and the new rules hold after."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import JSON, Boolean, Float, String, bindparam, column, insert, text
from sqlalchemy import table as sa_table
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from junction_control.columns import UtcDateTime
from junction_control.db import Database
from junction_control.migrations import alembic_config, current_revision, upgrade
from junction_control.settings import ControlSettings
from junction_control.tenants import service as tenants
from junction_control.usage.models import ModelCall, UsageHour

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# usage_hourly as revision 0006 knows it: no refused_calls yet
_OLD_HOUR = text(
    "INSERT INTO usage_hourly (tenant_id, hour, model, token_id, calls, failed_calls, "
    "input_tokens, output_tokens, cached_input_tokens, cost_usd) "
    "VALUES (:tenant_id, :hour, 'chat', 'tok', 3, 1, 30, 6, 0, 0.5)"
).bindparams(bindparam("hour", type_=UtcDateTime))


async def _dump(database: Database, table: str) -> list[tuple[object, ...]]:
    async with database.engine.connect() as conn:
        rows = await conn.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2"))
        return [tuple(row) for row in rows.all()]


async def _downgrade(database: Database, revision: str) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with database.engine.begin() as conn:
        await conn.run_sync(run)


def _call(tenant_id: str, call_id: str, status: str, **fields: object) -> ModelCall:
    values: dict[str, object] = {"finished_at": T0, **fields}
    return ModelCall(
        id=call_id,
        tenant_id=tenant_id,
        token_id="tok",
        model="chat",
        status=status,
        started_at=T0,
        **values,
    )


# model_calls columns added after revision 0006
_LATER_CALL_COLUMNS = {"usage_estimated", "partial", "request_id", "attempt_log"}


async def _insert(database: Database, *calls: ModelCall) -> None:
    # on the engine, not a session: a session reads an IntegrityError as a naming race
    rows = [c.model_dump(exclude=_LATER_CALL_COLUMNS) for c in calls]
    # the columns of revision 0006 alone (the model's table would add the later ones)
    table = ModelCall.__table__  # type: ignore[attr-defined]
    old = sa_table("model_calls", *(table.c[name]._copy() for name in rows[0]))
    async with database.engine.begin() as conn:
        await conn.execute(insert(old), rows)


@pytest.fixture
async def at_0006(settings: ControlSettings) -> Database:
    """A database at revision 0006 holding a tenant, three calls and an hour's rollup."""
    database = Database(settings.database_url)
    await upgrade(database.engine, "0006")
    async with database.session() as session:
        tenant = await tenants.create_tenant(session, "acme")
        await session.commit()
    await _insert(
        database,
        _call(tenant.id, "ok", "success", input_tokens=30, output_tokens=6, cost_usd=0.5),
        _call(tenant.id, "broke", "failed", http_status=400, error_code="unsupported_operation"),
        _call(tenant.id, "open", "processing", finished_at=None),
    )
    async with database.engine.begin() as conn:
        await conn.execute(_OLD_HOUR, {"tenant_id": tenant.id, "hour": T0})
    return database


async def test_upgrading_to_refused_calls_keeps_every_stored_call_and_rollup(
    at_0006: Database,
) -> None:
    database = at_0006
    try:
        calls_before = await _dump(database, "model_calls")
        hours_before = await _dump(database, "usage_hourly")

        await upgrade(database.engine, "0007")

        assert await current_revision(database.engine) == "0007"
        # a call recorded as failed before stays failed: nothing tells an old refusal apart
        assert await _dump(database, "model_calls") == calls_before
        assert await _dump(database, "usage_hourly") == [(*row, 0) for row in hours_before]
        async with database.session() as session:
            hour = (await session.exec(select(UsageHour))).one()
        assert (hour.calls, hour.failed_calls, hour.refused_calls) == (3, 1, 0)
    finally:
        await database.dispose()


async def test_after_the_upgrade_a_call_may_be_refused_and_nothing_else_new(
    at_0006: Database,
) -> None:
    database = at_0006
    try:
        await database.migrate()
        async with database.session() as session:
            tenant = await tenants.get_tenant(session, "acme")

        await _insert(database, _call(tenant.id, "no-provider", "refused", http_status=400))
        with pytest.raises(IntegrityError):
            await _insert(database, _call(tenant.id, "odd", "declined"))

        async with database.engine.connect() as conn:
            rows = await conn.execute(text("SELECT id, status FROM model_calls"))
            statuses = {call_id: status for call_id, status in rows.all()}
        assert statuses["no-provider"] == "refused"
        assert "odd" not in statuses
    finally:
        await database.dispose()


async def test_downgrading_records_refused_calls_as_failed_as_before(at_0006: Database) -> None:
    database = at_0006
    try:
        await upgrade(database.engine, "0007")
        async with database.session() as session:
            tenant = await tenants.get_tenant(session, "acme")
        await _insert(database, _call(tenant.id, "no-provider", "refused"))
        async with database.engine.begin() as conn:
            await conn.execute(text("UPDATE usage_hourly SET calls = 5, refused_calls = 2"))

        await _downgrade(database, "0006")

        assert await current_revision(database.engine) == "0006"
        async with database.engine.connect() as conn:
            status = await conn.scalar(
                text("SELECT status FROM model_calls WHERE id = 'no-provider'")
            )
            hour = (await conn.execute(text("SELECT calls, failed_calls FROM usage_hourly"))).one()
        assert status == "failed"
        assert tuple(hour) == (5, 3)
        with pytest.raises(IntegrityError):
            await _insert(database, _call(tenant.id, "again", "refused"))
    finally:
        await database.dispose()


async def test_upgrading_to_call_estimates_keeps_every_call_billed_as_reported(
    at_0006: Database,
) -> None:
    database = at_0006
    try:
        before = await _dump(database, "model_calls")
        await upgrade(database.engine, "0009")
        async with database.session() as session:
            # the columns of 0009 (the model has later ones)
            calls = (
                await session.exec(
                    select(
                        ModelCall.id,
                        ModelCall.input_tokens,
                        ModelCall.cost_usd,
                        ModelCall.usage_estimated,
                        ModelCall.partial,
                    ).order_by(ModelCall.id)
                )
            ).all()
        # every stored call is kept, with its figures, and none is flagged
        assert [(c.id, c.input_tokens, c.cost_usd) for c in calls] == [
            ("broke", 0, 0.0),
            ("ok", 30, 0.5),
            ("open", 0, 0.0),
        ]
        assert {(c.usage_estimated, c.partial) for c in calls} == {(False, False)}
        after = await _dump(database, "model_calls")
        assert [row[: len(before[0])] for row in after] == before
        await _downgrade(database, "0008")
        assert await _dump(database, "model_calls") == before
    finally:
        await database.dispose()


async def test_upgrading_to_request_ids_keeps_every_call_with_no_id(at_0006: Database) -> None:
    database = at_0006
    try:
        await upgrade(database.engine, "0013")
        before = await _dump(database, "model_calls")
        await upgrade(database.engine, "0014")
        assert await _column(database, "request_id") == [
            ("broke", None),
            ("ok", None),
            ("open", None),
        ]
        after = await _dump(database, "model_calls")
        assert [row[: len(before[0])] for row in after] == before
        await _downgrade(database, "0013")
        assert await _dump(database, "model_calls") == before
    finally:
        await database.dispose()


async def test_upgrading_to_attempt_logs_keeps_every_call_with_none(at_0006: Database) -> None:
    database = at_0006
    try:
        await upgrade(database.engine, "0014")
        before = await _dump(database, "model_calls")
        await upgrade(database.engine, "0015")
        assert await _column(database, "attempt_log") == [
            ("broke", None),
            ("ok", None),
            ("open", None),
        ]
        after = await _dump(database, "model_calls")
        assert [row[: len(before[0])] for row in after] == before
        assert all(len(row) == len(before[0]) + 1 for row in after)
        await _downgrade(database, "0014")
        assert await _dump(database, "model_calls") == before
    finally:
        await database.dispose()


async def _column(database: Database, name: str) -> list[tuple[object, ...]]:
    """Each call's id and one column, read as the revision stored them (no ORM model)."""
    async with database.engine.connect() as conn:
        rows = await conn.execute(text(f"SELECT id, {name} FROM model_calls ORDER BY id"))
        return [tuple(row) for row in rows.all()]


# user_tokens and ai_models as revision 0016 knows them: tokens name their models
_OLD_TOKENS = sa_table(
    "user_tokens",
    column("id", String),
    column("tenant_id", String),
    column("name", String),
    column("prefix", String),
    column("token_hash", String),
    column("allowed_models", JSON(none_as_null=True)),
    column("spent_usd", Float),
    column("created_at", UtcDateTime),
    column("budget_period", String),
    column("budget_timezone", String),
)
_OLD_MODELS = sa_table(
    "ai_models",
    column("id", String),
    column("tenant_id", String),
    column("name", String),
    column("input_price_per_mtok", Float),
    column("output_price_per_mtok", Float),
    column("cached_input_price_per_mtok", Float),
    column("free", Boolean),
    column("created_at", UtcDateTime),
)


async def _token_lists(database: Database, column_name: str) -> dict[str, object]:
    async with database.engine.connect() as conn:
        rows = await conn.execute(text(f"SELECT id, {column_name} FROM user_tokens"))
        return {
            row[0]: json.loads(row[1]) if isinstance(row[1], str) else row[1] for row in rows.all()
        }


async def test_upgrading_to_model_ids_turns_each_token_list_into_its_tenants_model_ids(
    settings: ControlSettings,
) -> None:
    database = Database(settings.database_url)
    try:
        await upgrade(database.engine, "0016")
        async with database.session() as session:
            acme = await tenants.create_tenant(session, "acme")
            globex = await tenants.create_tenant(session, "globex")
            await session.commit()
        models = [
            ("acme-chat", acme.id, "chat"),
            ("acme-embed", acme.id, "embed"),
            ("globex-chat", globex.id, "chat"),
        ]
        tokens = [
            ("all", acme.id, None),
            # "gone" names no model any more: under names it would let a future "gone" in
            ("named", acme.id, ["embed", "chat", "gone"]),
            ("other", globex.id, ["chat"]),
            ("empty", acme.id, []),
        ]
        async with database.engine.begin() as conn:
            await conn.execute(
                insert(_OLD_MODELS),
                [
                    {
                        "id": model_id,
                        "tenant_id": tenant_id,
                        "name": name,
                        "input_price_per_mtok": 0.0,
                        "output_price_per_mtok": 0.0,
                        "cached_input_price_per_mtok": 0.0,
                        "free": True,
                        "created_at": T0,
                    }
                    for model_id, tenant_id, name in models
                ],
            )
            await conn.execute(
                insert(_OLD_TOKENS),
                [
                    {
                        "id": token_id,
                        "tenant_id": tenant_id,
                        "name": token_id,
                        "prefix": "jk-" + token_id,
                        "token_hash": token_id * 8,
                        "allowed_models": allowed,
                        "spent_usd": 0.0,
                        "created_at": T0,
                        "budget_period": "lifetime",
                        "budget_timezone": "UTC",
                    }
                    for token_id, tenant_id, allowed in tokens
                ],
            )

        await upgrade(database.engine, "0017")

        assert await _token_lists(database, "allowed_model_ids") == {
            "all": None,
            "named": ["acme-embed", "acme-chat"],
            "other": ["globex-chat"],  # its own tenant's "chat", never acme's
            "empty": [],
        }

        await _downgrade(database, "0016")
        assert await _token_lists(database, "allowed_models") == {
            "all": None,
            "named": ["embed", "chat"],
            "other": ["chat"],
            "empty": [],
        }
    finally:
        await database.dispose()
