"""The query and response bodies of the audit endpoint."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from junction_control.admin.schemas import Page, PageQuery
from junction_control.audit.models import AuditEntry
from junction_control.usage.schemas import TimeOrDate


class AuditQuery(PageQuery):
    """``?action=&object_type=&user_id=&since=&until=`` on a page of the audit log.

    `action` is one action (``token.create``) or a family of them (``token``
    matches ``token.create``, ``token.revoke``, ...); `object_type` and
    `user_id` (the actor) are exact; `since`/`until` bound the entry's time,
    `until` exclusive (a plain date is 00:00 UTC). The filters combine (AND).
    """

    action: str | None = Field(default=None, min_length=1, max_length=64)
    object_type: str | None = Field(default=None, min_length=1, max_length=32)
    user_id: str | None = Field(default=None, min_length=1, max_length=36)
    since: TimeOrDate | None = None
    until: TimeOrDate | None = None


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
