"""Writing audit rows: one per write, whoever makes it, and one per refused attempt."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from junction_control.audit.actor import Actor
from junction_control.audit.models import AuditEntry

DENIED = "denied"


async def record(
    session: AsyncSession,
    *,
    tenant_id: str | None,
    user_id: str | None,
    action: str,
    object_type: str,
    object_id: str | None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one audit row in the caller's transaction (so it commits with the write).

    `details` must hold no secret: callers pass field names and public values only.
    """
    entry = AuditEntry(
        tenant_id=tenant_id,
        user_id=user_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        details=details or {},
    )
    session.add(entry)
    await session.flush()
    return entry


async def record_by(
    session: AsyncSession,
    actor: Actor,
    *,
    tenant_id: str | None,
    action: str,
    object_type: str,
    object_id: str | None,
    **details: Any,
) -> AuditEntry:
    """Append the audit row of a write by `actor`; `details` hold no secret."""
    return await record(
        session,
        tenant_id=tenant_id,
        user_id=actor.user_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        details={**details, **actor.details()},
    )


async def record_denial(
    session: AsyncSession,
    *,
    user_id: str,
    tenant_id: str | None,
    target: str,
    wanted: str,
    method: str,
    route: str,
    path: str,
    status: int,
    object_id: str | None = None,
) -> None:
    """Append and commit a ``denied`` row: who tried what on which target.

    Committed at once, before the refusal unwinds the request's transaction;
    it runs before a handler writes anything, so nothing else commits with
    it. Only names and ids are kept, never a body or a header. `object_id`
    is the row aimed at (default: the tenant).
    """
    await record(
        session,
        tenant_id=tenant_id,
        user_id=user_id,
        action=DENIED,
        object_type=target[:32],
        object_id=object_id or tenant_id,
        details={
            "wanted": wanted,
            "method": method,
            "route": route[:200],
            "path": path[:200],
            "status": status,
        },
    )
    await session.commit()
