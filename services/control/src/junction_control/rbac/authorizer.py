"""The Casbin enforcer of the admin API.

Built once per app from the packaged model file and the static policy table.
Memberships live in the database, so before each decision the asking user's
grouping rules are replaced by the ones just read from it: a role granted or
taken away (by this process, another replica or the CLI) counts from the next
request on. Syncing and enforcing run without an ``await`` in between, so
concurrent requests never see each other's half-synced rules.

Each decision is logged at DEBUG (``junction.control.authz``): who, what,
where and the verdict. Casbin's own loggers stay off: they log every
decision at INFO and every refusal at WARNING.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib.resources import files

import casbin

from junction_control.rbac.policy import ALL_DOMAINS, PLATFORM_ADMIN, policy_rules

MODEL_FILE = "model.conf"

log = logging.getLogger("junction.control.authz")


def load_model_text() -> str:
    """The Casbin model shipped with the package."""
    return (files("junction_control.rbac") / MODEL_FILE).read_text(encoding="utf-8")


class Authorizer:
    """Answers "may this user do this in this tenant?" with Casbin."""

    def __init__(self) -> None:
        model = casbin.Model()
        model.load_model_from_text(load_model_text())
        self._enforcer = casbin.Enforcer(model)
        self._enforcer.add_policies(policy_rules())

    def allowed(
        self,
        user_id: str,
        grants: Iterable[tuple[str, str]],
        *,
        is_platform_admin: bool,
        domain: str,
        obj: str,
        act: str,
    ) -> bool:
        """Whether the user with these (role, tenant_id) `grants` may `act` on `obj` in `domain`.

        `domain` is a tenant id, or ``*`` for actions outside any tenant
        (which only platform admins hold).
        """
        rules = [[user_id, role, tenant_id] for role, tenant_id in grants]
        if is_platform_admin:
            rules.append([user_id, PLATFORM_ADMIN, ALL_DOMAINS])
        self._sync(user_id, rules)
        allowed = bool(self._enforcer.enforce(user_id, domain, obj, act))
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "authorization %s",
                "allowed" if allowed else "denied",
                extra={"user_id": user_id, "domain": domain, "object": obj, "action": act},
            )
        return allowed

    def _sync(self, user_id: str, rules: list[list[str]]) -> None:
        current = self._enforcer.get_filtered_grouping_policy(0, user_id)
        if sorted(current) == sorted(rules):
            return
        if current:
            self._enforcer.remove_filtered_grouping_policy(0, user_id)
        if rules:
            self._enforcer.add_grouping_policies(rules)
