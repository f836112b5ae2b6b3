"""Credit endpoints: a tenant's balance and ledger (pages, or a CSV); grants by platform admins."""

from __future__ import annotations

from sqlmodel import col
from starlette.responses import Response

from junction_control.admin.access import requires
from junction_control.admin.errors import invalid_field
from junction_control.admin.export import CSV_MEDIA_TYPE, csv_response
from junction_control.admin.pagination import keyset_page
from junction_control.admin.registry import Call, Router
from junction_control.admin.schemas import PageQuery
from junction_control.credits import export, service
from junction_control.credits.models import LedgerEntry
from junction_control.credits.schemas import (
    BillingIn,
    BillingOut,
    CreditsOut,
    GrantIn,
    GrantOut,
    LedgerEntryOut,
)
from junction_control.errors import InvalidInput

router = Router("credits")


@router.add(
    "GET",
    "/tenants/{tenant_id}/credits",
    summary="The tenant's credit balance and ledger entries, newest first",
    permission=requires("credits", "read"),
    query=PageQuery,
    response=CreditsOut,
)
async def get_credits(call: Call) -> CreditsOut:
    tenant_id = call.access.tenant_id
    rows, next_cursor = await keyset_page(
        call.session,
        service.ledger_query(tenant_id),
        at=col(LedgerEntry.created_at),
        row_id=col(LedgerEntry.id),
        key=lambda e: (e.created_at, e.id),
        page=call.query(PageQuery),
        descending=True,
    )
    account = await service.account_of(call.session, tenant_id)
    return CreditsOut(
        balance_usd=account.balance_usd,
        billing=account.billing,
        credit_limit_usd=account.credit_limit_usd,
        entries=[LedgerEntryOut.of(e) for e in rows],
        next_cursor=next_cursor,
    )


@router.add(
    "GET",
    "/tenants/{tenant_id}/credits/ledger.csv",
    summary="The tenant's ledger entries in [since, until), oldest first, as a CSV download",
    permission=requires("credits", "read"),
    query=export.LedgerQuery,
    produces=CSV_MEDIA_TYPE,
)
async def export_ledger(call: Call) -> Response:
    query = call.query(export.LedgerQuery)
    if query.since is not None and query.until is not None and query.since >= query.until:
        raise invalid_field("since", "must be before until")
    tenant = call.access.current_tenant
    return csv_response(
        export.filename(tenant.name),
        export.HEADER,
        export.ledger_pages(call.context.database, tenant.id, query.since, query.until),
    )


@router.add(
    "POST",
    "/tenants/{tenant_id}/credits/grants",
    summary="Grant (or adjust) the tenant's credit; platform admins only",
    permission=requires("credits", "write"),
    body=GrantIn,
    response=GrantOut,
    status=201,
)
async def grant_credits(call: Call) -> GrantOut:
    data = call.body(GrantIn)
    tenant = call.access.current_tenant
    try:
        entry = await service.add_entry(
            call.session,
            tenant,
            data.amount_usd,
            kind=data.kind,
            note=data.note,
            created_by=call.access.user.id,
        )
    except InvalidInput as exc:
        raise invalid_field("amount_usd", str(exc)) from None
    await call.audit(f"credits.{data.kind}", "credit_ledger", entry.id, amount_usd=entry.amount_usd)
    return GrantOut(
        entry=LedgerEntryOut.of(entry),
        balance_usd=await service.balance_of(call.session, tenant.id),
    )


@router.add(
    "PUT",
    "/tenants/{tenant_id}/credits/billing",
    summary="Make the tenant prepaid or postpaid (with a credit limit); platform admins only",
    permission=requires("credits", "write"),
    body=BillingIn,
    response=BillingOut,
)
async def set_billing(call: Call) -> BillingOut:
    data = call.body(BillingIn)
    try:
        account = await service.set_billing(
            call.session, call.access.current_tenant, data.billing, data.credit_limit_usd
        )
    except InvalidInput as exc:
        raise invalid_field("credit_limit_usd", str(exc)) from None
    await call.audit(
        "credits.billing",
        "credit_account",
        account.tenant_id,
        billing=account.billing,
        credit_limit_usd=account.credit_limit_usd,
    )
    return BillingOut(
        billing=account.billing,
        credit_limit_usd=account.credit_limit_usd,
        balance_usd=account.balance_usd,
    )
