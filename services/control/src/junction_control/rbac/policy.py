"""The static policy table: which (object, act) pairs each role is allowed.

Objects are the admin API's resources; acts are ``read`` and ``write`` (plus
``delete`` on ``tenants``, which only owners and platform admins hold).
Credits are granted by platform admins only: no tenant role writes
``credits``, so owners hold an explicit list instead of ``*``.

Two refinements are objects of their own so Casbin decides them too:

- ``tokens:own`` — a member's tokens: a role with only this sees and
  revokes the tokens it owns;
- ``users:owner`` — granting, changing or removing the owner role.
"""

from __future__ import annotations

from typing import Final

OBJECTS: Final = (
    "tenants",
    "users",
    "tokens",
    "providers",
    "credentials",
    "models",
    "usage",
    "calls",
    "audit",
    "credits",
)
ACTS: Final = ("read", "write")
PLATFORM_ADMIN: Final = "platform_admin"
ALL_DOMAINS: Final = "*"

# every pair a tenant role may hold at most: all but writing credits (a platform act)
_TENANT_WRITES = [
    (obj, act) for obj in OBJECTS for act in ACTS if (obj, act) != ("credits", "write")
]
_READ_BUT_CREDENTIALS = [(obj, "read") for obj in OBJECTS if obj != "credentials"]

POLICIES: Final[dict[str, list[tuple[str, str]]]] = {
    PLATFORM_ADMIN: [("*", "*")],
    "owner": [
        *_TENANT_WRITES,
        ("tenants", "delete"),
        ("tokens:own", "*"),
        ("users:owner", "*"),
    ],
    "admin": _TENANT_WRITES,
    "member": [
        *(pair for pair in _READ_BUT_CREDENTIALS if pair[0] != "tokens"),
        ("tokens:own", "read"),
        ("tokens:own", "write"),
    ],
    "viewer": _READ_BUT_CREDENTIALS,
}


def policy_rules() -> list[list[str]]:
    """Every ``p`` rule: [role, object, act]."""
    return [[role, obj, act] for role, pairs in POLICIES.items() for obj, act in pairs]
