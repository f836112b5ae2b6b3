"""The audit endpoint: a tenant's writes, newest first, with optional filters."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_
from sqlmodel import col, select

from junction_control.admin.access import requires
from junction_control.admin.errors import invalid_field
from junction_control.admin.pagination import keyset_page
from junction_control.admin.registry import Call, Router
from junction_control.audit.models import AuditEntry
from junction_control.audit.schemas import AuditOut, AuditPage, AuditQuery

router = Router("audit")


@router.add(
    "GET",
    "/tenants/{tenant_id}/audit",
    summary="The tenant's audit log, newest first, filtered by action, object type, actor, time",
    permission=requires("audit", "read"),
    query=AuditQuery,
    response=AuditPage,
)
async def list_audit(call: Call) -> AuditPage:
    page = call.query(AuditQuery)
    if page.since is not None and page.until is not None and page.since >= page.until:
        raise invalid_field("since", "must be before until")
    query = select(AuditEntry).where(AuditEntry.tenant_id == call.access.tenant_id, *_filters(page))
    rows, next_cursor = await keyset_page(
        call.session,
        query,
        at=col(AuditEntry.at),
        row_id=col(AuditEntry.id),
        key=lambda e: (e.at, e.id),
        page=page,
        descending=True,
    )
    return AuditPage(items=[AuditOut.of(e) for e in rows], next_cursor=next_cursor)


def _filters(page: AuditQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if page.action is not None:
        action = col(AuditEntry.action)
        # a family ("token") is every action under it; LIKE's wildcards are escaped
        family = page.action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(or_(action == page.action, action.like(f"{family}.%", escape="\\")))
    if page.object_type is not None:
        where.append(col(AuditEntry.object_type) == page.object_type)
    if page.user_id is not None:
        where.append(col(AuditEntry.user_id) == page.user_id)
    if page.since is not None:
        where.append(col(AuditEntry.at) >= page.since)
    if page.until is not None:
        where.append(col(AuditEntry.at) < page.until)
    return where
