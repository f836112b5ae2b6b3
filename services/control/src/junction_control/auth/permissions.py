"""What the caller may do, per tenant, as Casbin decides it: for the console to hide the rest.

The (resource, action) pairs asked about are read off the policy table
itself: every pair a role is granted, with a ``*`` expanded to the objects
and acts it stands for. Each pair is then put to the same enforcer the
admin API's permission check uses, in the tenant's domain, so what
``/auth/me`` lists is exactly what the endpoints let through.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from junction_control.rbac.authorizer import Authorizer
from junction_control.rbac.policy import ACTS, ALL_DOMAINS, OBJECTS, policy_rules
from junction_control.users.models import Membership, User

WILDCARD = "*"


@dataclass(frozen=True, slots=True, order=True)
class Grant:
    """One (resource, action) pair, e.g. ("tokens", "write") or ("tokens:own", "read")."""

    resource: str
    action: str


def candidate_grants() -> list[Grant]:
    """Every pair the policy table grants some role, a ``*`` read as every object or act."""
    pairs: set[Grant] = set()
    for _role, obj, act in policy_rules():
        for resource in OBJECTS if obj == WILDCARD else (obj,):
            for action in ACTS if act == WILDCARD else (act,):
                pairs.add(Grant(resource, action))
    return sorted(pairs)


def allowed_grants(
    authorizer: Authorizer,
    user: User,
    memberships: Sequence[Membership],
    domain: str,
    candidates: Sequence[Grant],
) -> list[Grant]:
    """The `candidates` Casbin lets `user` hold in `domain` (a tenant id, or ``*``)."""
    roles = [(m.role, m.tenant_id) for m in memberships]
    return [
        g
        for g in candidates
        if authorizer.allowed(
            user.id,
            roles,
            is_platform_admin=user.is_platform_admin,
            domain=domain,
            obj=g.resource,
            act=g.action,
        )
    ]


def platform_grants(
    authorizer: Authorizer, user: User, memberships: Sequence[Membership]
) -> list[Grant]:
    """What `user` may do outside any tenant (only platform admins hold anything there)."""
    return allowed_grants(authorizer, user, memberships, ALL_DOMAINS, candidate_grants())
