"""The audit endpoint: a tenant's writes, newest first."""

from __future__ import annotations

from sqlmodel import col, select

from junction_control.admin.access import requires
from junction_control.admin.pagination import keyset_page
from junction_control.admin.registry import Call, Router
from junction_control.admin.schemas import PageQuery
from junction_control.audit.models import AuditEntry
from junction_control.audit.schemas import AuditOut, AuditPage

router = Router("audit")


@router.add(
    "GET",
    "/tenants/{tenant_id}/audit",
    summary="The tenant's audit log, newest first",
    permission=requires("audit", "read"),
    query=PageQuery,
    response=AuditPage,
)
async def list_audit(call: Call) -> AuditPage:
    rows, next_cursor = await keyset_page(
        call.session,
        select(AuditEntry).where(AuditEntry.tenant_id == call.access.tenant_id),
        at=col(AuditEntry.at),
        row_id=col(AuditEntry.id),
        key=lambda e: (e.at, e.id),
        page=call.query(PageQuery),
        descending=True,
    )
    return AuditPage(items=[AuditOut.of(e) for e in rows], next_cursor=next_cursor)
