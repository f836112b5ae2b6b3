"""Writing audit rows (one per admin write) and reading a tenant's trail."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from junction_control.audit.models import AuditEntry


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
