"""CSV exports of usage and of the credit ledger, and plain dates in the usage range.

The exports are read as a spreadsheet would read them (the `csv` module):
one header row, RFC 4180 quoting, text that would run as a formula made
inert, money as exact decimals, the same permissions as the JSON reads.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.applications import Starlette

from junction_control.credits.models import LedgerEntry
from junction_control.db import Database
from junction_control.settings import ControlSettings
from junction_control.usage.export import HEADER
from junction_control.usage.models import ModelCall
from junction_control.usage.rollup import floor_hour, rollup_hours

from .conftest import World
from .test_telemetry import finished, send
from .test_usage import add_calls, call

BASE = floor_hour(datetime.now(UTC) - timedelta(days=3))
CSV_TYPE = "text/csv; charset=utf-8"


def t(hours: int, minutes: int = 0) -> datetime:
    return BASE + timedelta(hours=hours, minutes=minutes)


def old_call(tenant_id: str, call_id: str, started_at: datetime, **fields: object) -> ModelCall:
    """A call last written as it happened (so the rollup covers it at once)."""
    return call(
        tenant_id, call_id, started_at, updated_at=started_at + timedelta(seconds=1), **fields
    )


async def roll(database: Database) -> None:
    async with database.session() as session:
        await rollup_hours(session, until=datetime.now(UTC), retention=timedelta(days=90))
        await session.commit()


async def body_messages(
    app: Starlette, path: str, query: str, headers: dict[str, str]
) -> list[bytes]:
    """The bodies of the ASGI messages `app` sends for a GET, one per message as sent."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("admin", 80),
    }
    sent: list[dict[str, Any]] = []
    requested = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if requested.is_set():  # the client stays until the answer is sent
            await asyncio.Event().wait()
        requested.set()
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert sent[0]["status"] == 200
    return [m["body"] for m in sent if m["type"] == "http.response.body" and m.get("body")]


def parse(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.text, newline="")))


async def test_the_usage_csv_adds_up_per_model_to_the_json_totals(
    admin: httpx.AsyncClient, database: Database, world: World
) -> None:
    acme = world.acme
    await add_calls(
        database,
        *(
            old_call(
                acme.tenant_id,
                f"c{n}",
                t(n // 3, 10 + 20 * (n % 3)),
                model=("chat", "embed")[n % 2],
                token_id=acme.token_id if n % 3 else "gone",
                input_tokens=n,
                output_tokens=2 * n,
                cost_usd=(0.1, 0.2)[n % 2],
                status="failed" if n % 5 == 0 else "success",
            )
            for n in range(18)
        ),
        old_call(world.globex_id, "theirs", t(2, 10), input_tokens=999),
    )
    await roll(database)
    params = {"since": t(0, 20).isoformat(), "until": t(5, 40).isoformat()}
    headers = world["viewer"].headers

    exported = await admin.get(
        f"/tenants/{acme.tenant_id}/usage.csv", params=params, headers=headers
    )
    totals = await admin.get(f"/tenants/{acme.tenant_id}/usage", params=params, headers=headers)

    assert exported.headers["content-type"] == CSV_TYPE
    stamp = f"{t(0, 20):%Y%m%dT%H%M%SZ}-{t(5, 40):%Y%m%dT%H%M%SZ}"
    assert (
        exported.headers["content-disposition"] == f'attachment; filename="usage-acme-{stamp}.csv"'
    )
    assert exported.text.endswith("\r\n")
    header, *rows = parse(exported)
    assert header == list(HEADER)
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 4)
    for row in rows:
        cells = dict(zip(header, row, strict=True))
        for i, name in enumerate(("calls", "failed_calls", "input_tokens", "cost_usd")):
            sums[cells["model"]][i] += Decimal(cells[name])
    expected = {
        m["model"]: [Decimal(m[k]) for k in ("calls", "failed_calls", "input_tokens")]
        + [Decimal(str(m["cost_usd"]))]
        for m in totals.json()["models"]
    }
    assert dict(sums) == expected
    hours = [r[0] for r in rows]
    assert hours == sorted(hours)
    assert hours[0] == f"{t(0):%Y-%m-%dT%H:00:00Z}"  # the edge hour, its part in the range
    assert hours[-1] == f"{t(5):%Y-%m-%dT%H:00:00Z}"
    assert {(r[2], r[3]) for r in rows} == {(acme.token_id, "app"), ("gone", "")}
    assert {r[10] for r in rows} <= {"0.1", "0.2", "0.3", "0.4", "0.5", "0.6"}


async def test_text_a_spreadsheet_would_run_is_made_inert_and_quoted_as_rfc_4180_says(
    admin: httpx.AsyncClient, database: Database, world: World
) -> None:
    names = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tlead", 'plain, "quoted"']
    await add_calls(
        database,
        *(
            old_call(world.acme.tenant_id, f"n{i}", t(1, 5), model=name)
            for i, name in enumerate(names)
        ),
    )

    response = await admin.get(
        f"/tenants/{world.acme.tenant_id}/usage.csv",
        params={"since": t(1).isoformat(), "until": t(2).isoformat()},
        headers=world["member"].headers,
    )

    _, *rows = parse(response)
    assert sorted(r[1] for r in rows) == sorted(
        ['\'=HYPERLINK("http://x")', "'+1", "'-2", "'@SUM(A1)", "'\tlead", 'plain, "quoted"']
    )
    assert '"plain, ""quoted"""' in response.text


async def test_a_large_usage_export_is_streamed_with_every_row_once_in_order(
    admin_app: Starlette, database: Database, world: World
) -> None:
    tenant_id = world.acme.tenant_id
    await add_calls(
        database,
        *(
            old_call(tenant_id, f"c{h}-{k}", t(h, 30), token_id=f"tok-{k:03d}")
            for h in range(25)
            for k in range(100)
        ),
    )
    await roll(database)

    query = urlencode({"since": t(0).isoformat(), "until": t(25).isoformat()})
    chunks = await body_messages(
        admin_app, f"/api/v1/tenants/{tenant_id}/usage.csv", query, world["viewer"].headers
    )

    _, *rows = list(csv.reader(io.StringIO(b"".join(chunks).decode(), newline="")))
    keys = [(r[0], r[2]) for r in rows]
    assert len(rows) == 2500
    assert keys == sorted(set(keys))
    assert len(chunks) > 3  # sent as made: the header, then a message per page of rows


async def test_the_ledger_csv_lists_each_entry_with_its_exact_amount(
    admin: httpx.AsyncClient,
    internal_client: httpx.AsyncClient,
    settings: ControlSettings,
    world: World,
) -> None:
    tenant_id = world.acme.tenant_id
    platform = world["platform"].headers
    for amount, note in ((0.1, "=1+1"), (0.2, "-refund, of sorts")):
        granted = await admin.post(
            f"/tenants/{tenant_id}/credits/grants",
            json={"amount_usd": amount, "note": note},
            headers=platform,
        )
        assert granted.status_code == 201, granted.text
    charge = finished(world.acme, "paid", cost_usd=0.1 + 0.2)  # 0.30000000000000004
    assert (await send(internal_client, settings, [charge])).status_code == 202

    response = await admin.get(
        f"/tenants/{tenant_id}/credits/ledger.csv", headers=world["viewer"].headers
    )
    today = datetime.now(UTC).date()
    later = await admin.get(
        f"/tenants/{tenant_id}/credits/ledger.csv",
        params={"since": (today + timedelta(days=1)).isoformat()},
        headers=world["viewer"].headers,
    )

    assert response.headers["content-type"] == CSV_TYPE
    assert response.headers["content-disposition"] == 'attachment; filename="ledger-acme.csv"'
    header, *rows = parse(response)
    assert header == [
        "id",
        "created_at",
        "kind",
        "amount_usd",
        "model_call_id",
        "note",
        "created_by",
    ]
    cells = [dict(zip(header, r, strict=True)) for r in rows]
    assert [(c["kind"], c["amount_usd"], c["note"]) for c in cells] == [
        ("grant", "0.1", "'=1+1"),
        ("grant", "0.2", "'-refund, of sorts"),
        ("charge", "-0.3", ""),  # a number: negative amounts are not made text
    ]
    assert cells[2]["model_call_id"] == "paid"
    assert cells[0]["created_by"] == world["platform"].user_id
    assert [c["created_at"] for c in cells] == sorted(c["created_at"] for c in cells)
    assert parse(later) == [header]


async def test_a_long_ledger_is_exported_whole_and_in_order_across_pages(
    admin: httpx.AsyncClient, database: Database, world: World
) -> None:
    tenant_id = world.acme.tenant_id
    start = datetime.now(UTC) - timedelta(days=1)
    entries = [
        # three entries to an instant: pages must split ties without losing one
        LedgerEntry(
            tenant_id=tenant_id,
            kind="charge",
            amount_usd=-0.000125,
            model_call_id=f"call-{n:04d}",
            created_at=start + timedelta(seconds=n // 3),
        )
        for n in range(2100)
    ]
    async with database.session() as session:
        session.add_all(entries)
        await session.commit()

    response = await admin.get(
        f"/tenants/{tenant_id}/credits/ledger.csv", headers=world["viewer"].headers
    )

    _, *rows = parse(response)
    assert len(rows) == 2100
    assert sorted(r[4] for r in rows) == sorted(e.model_call_id or "" for e in entries)
    assert [(r[1], r[0]) for r in rows] == sorted((r[1], r[0]) for r in rows)
    assert {r[3] for r in rows} == {"-0.000125"}


async def test_exports_take_the_permissions_of_the_json_reads(
    admin: httpx.AsyncClient, world: World
) -> None:
    tenant_id = world.acme.tenant_id
    for path in ("usage.csv", "credits/ledger.csv"):
        url = f"/tenants/{tenant_id}/{path}"
        anonymous = await admin.get(url)
        outsider = await admin.get(url, headers=world["outsider"].headers)
        viewer = await admin.get(url, headers=world["viewer"].headers)

        assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (
            401,
            "unauthenticated",
        )
        assert (outsider.status_code, outsider.json()["error"]["code"]) == (404, "not_found")
        assert viewer.status_code == 200
        assert viewer.headers["content-type"] == CSV_TYPE


async def test_the_usage_range_takes_plain_dates_as_midnight_utc(
    admin: httpx.AsyncClient, world: World
) -> None:
    url = f"/tenants/{world.acme.tenant_id}/usage"
    headers = world["viewer"].headers

    dated = await admin.get(
        url, params={"since": "2026-11-01", "until": "2026-12-01"}, headers=headers
    )
    mixed = await admin.get(
        url, params={"since": "2026-11-30", "until": "2026-11-30T06:00:00+02:00"}, headers=headers
    )
    exported = await admin.get(url + ".csv", params={"since": "2026-11-01"}, headers=headers)
    ledger = await admin.get(
        f"/tenants/{world.acme.tenant_id}/credits/ledger.csv",
        params={"since": "2026-11-01", "until": "2026-12-01"},
        headers=headers,
    )

    assert dated.status_code == 200, dated.text
    assert (dated.json()["since"], dated.json()["until"]) == (
        "2026-11-01T00:00:00Z",
        "2026-12-01T00:00:00Z",
    )
    assert mixed.json()["until"] == "2026-11-30T04:00:00Z"
    assert exported.status_code == ledger.status_code == 200


async def test_bad_ranges_are_json_errors_naming_the_field(
    admin: httpx.AsyncClient, world: World
) -> None:
    tenant_id = world.acme.tenant_id
    headers = world["viewer"].headers
    cases = [
        ("usage", {"since": "2026-13-01"}, "since"),
        ("usage", {"until": "2026-02-30"}, "until"),
        ("usage", {"since": "2026-12-02", "until": "2026-12-01"}, "since"),
        ("usage.csv", {"since": "2026-12-01", "until": "2026-12-01"}, "since"),
        ("usage.csv", {"since": "yesterday"}, "since"),
        ("credits/ledger.csv", {"since": "2026-12-02", "until": "2026-12-01"}, "since"),
    ]
    for path, params, field in cases:
        response = await admin.get(f"/tenants/{tenant_id}/{path}", params=params, headers=headers)

        assert response.status_code == 422, (path, params, response.text)
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error"]["field"] == field


async def test_the_document_describes_the_exports_as_csv(admin: httpx.AsyncClient) -> None:
    paths = (await admin.get("/openapi.json")).json()["paths"]

    for path in ("usage.csv", "credits/ledger.csv"):
        operation = paths[f"/api/v1/tenants/{{tenant_id}}/{path}"]["get"]
        assert list(operation["responses"]["200"]["content"]) == ["text/csv"]
        assert {p["name"] for p in operation["parameters"]} == {"tenant_id", "since", "until"}
