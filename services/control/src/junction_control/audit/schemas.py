"""Response bodies of the audit endpoint."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from junction_control.admin.schemas import Page
from junction_control.audit.models import AuditEntry


class AuditOut(BaseModel):
    id: str
    user_id: str | None
    action: str
    object_type: str
    object_id: str | None
    at: datetime
    details: dict[str, Any]

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditOut:
        return cls(
            id=entry.id,
            user_id=entry.user_id,
            action=entry.action,
            object_type=entry.object_type,
            object_id=entry.object_id,
            at=entry.at,
            details=entry.details,
        )


AuditPage = Page[AuditOut]
