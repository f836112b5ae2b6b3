"""How many requests one engine process serves at once, in all and per tenant.

Past its cap a process sheds a request at once (503 ``overloaded``, with
``Retry-After``) instead of queueing it behind the others: a queue only
turns an overload into timeouts for everyone, and a client told to come
back can try another replica. The optional per-tenant cap keeps one tenant
from taking every slot (429 ``tenant_concurrency_limit``).

Both counts are plain integers of one process, changed only on its event
loop: no lock, no await. With several workers or replicas each counts its
own requests, so a tenant may have up to the cap in flight on each of them.
"""

from __future__ import annotations

import sys
from collections.abc import MutableMapping
from typing import Any

from junction_engine.errors import RateLimited
from junction_engine.settings import EngineSettings

#: the scope key naming the tenant whose slot a request holds (freed when it ends)
TENANT_SLOT = "junction.tenant"


class Admission:
    """The in-flight counts of one process and their caps (0: no cap)."""

    __slots__ = ("in_flight", "max_in_flight", "per_tenant", "tenant_max", "tenants")

    def __init__(self, max_in_flight: int = 0, tenant_max_in_flight: int = 0) -> None:
        #: requests being served now (health, readiness and metrics are not counted)
        self.in_flight = 0
        self.max_in_flight = max_in_flight or sys.maxsize
        #: whether tenants are capped at all: when not, nothing is counted per tenant
        self.per_tenant = tenant_max_in_flight > 0
        self.tenant_max = tenant_max_in_flight
        self.tenants: dict[str, int] = {}

    @classmethod
    def from_settings(cls, settings: EngineSettings) -> Admission:
        return cls(settings.max_in_flight, settings.tenant_max_in_flight)

    def enter_tenant(self, scope: MutableMapping[str, Any], tenant_id: str) -> None:
        """Take a slot of `tenant_id` for this request, or refuse it (429)."""
        if TENANT_SLOT in scope:
            return  # this request holds its slot already
        held = self.tenants.get(tenant_id, 0)
        if held >= self.tenant_max:
            raise RateLimited(
                f"this tenant has {held} requests in flight, its limit; retry when one ends",
                code="tenant_concurrency_limit",
                headers={"retry-after": "1"},
            )
        self.tenants[tenant_id] = held + 1
        scope[TENANT_SLOT] = tenant_id

    def leave_tenant(self, scope: MutableMapping[str, Any]) -> None:
        """Free the tenant slot this request took, if it took one."""
        tenant_id = scope.pop(TENANT_SLOT, None)
        if tenant_id is None:
            return
        left = self.tenants[tenant_id] - 1
        if left:
            self.tenants[tenant_id] = left
        else:
            del self.tenants[tenant_id]  # idle tenants take no memory
