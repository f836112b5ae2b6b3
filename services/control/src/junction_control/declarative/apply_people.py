"""``apply -f`` for who uses a tenant: its keys, its users and roles, its budget.

Role changes go through `users.members`, like the admin API's: the last
owner is kept, the member's keys are announced, the change is audited.
"""

from __future__ import annotations

from junction_control.audit.service import record_by
from junction_control.declarative.report import Run, unique
from junction_control.declarative.spec import TenantSpec, TokenSpec, UserSpec
from junction_control.errors import InvalidInput
from junction_control.models import service as models
from junction_control.tenants import budgets as tenant_budgets
from junction_control.tenants.models import Tenant
from junction_control.tokens import service as tokens
from junction_control.tokens import writes as token_writes
from junction_control.users import members
from junction_control.users import service as users

_LIMIT_FIELDS = (
    "allowed_models",
    "rpm",
    "tpm",
    "budget_usd",
    "budget_period",
    "budget_timezone",
    "expires_at",
)


async def apply_people(run: Run, tenant: Tenant, spec: TenantSpec) -> None:
    """Apply the tenant's tokens, users and budget."""
    for token_spec in spec.tokens:
        await _apply_token(run, tenant, token_spec)
    unique([u.email for u in spec.users], f"tenant {spec.name}: user")
    for user_spec in spec.users:
        await _apply_user(run, tenant, user_spec)
    if spec.budget is not None:
        await _apply_budget(run, tenant, spec.budget)


async def _apply_budget(run: Run, tenant: Tenant, spec: tenant_budgets.BudgetSpec) -> None:
    current = await tenant_budgets.get_budget(run.session, tenant.id)
    if current is not None and tenant_budgets.spec_of(current) == spec:
        run.report.record("budget", tenant.name, "unchanged")
        return
    # set_budget writes its own audit row
    await tenant_budgets.set_budget(run.session, tenant, spec, run.actor)
    run.report.record("budget", tenant.name, "created" if current is None else "updated")


async def _apply_token(run: Run, tenant: Tenant, spec: TokenSpec) -> None:
    session = run.session
    name = f"{tenant.name}/{spec.name}"
    if spec.limits.allowed_models:
        await models.check_models_exist(session, tenant, spec.limits.allowed_models)
    token = await tokens.find_token(session, tenant, spec.name)
    if token is None:
        created = await token_writes.create_token(
            session, tenant, spec.name, spec.limits, run.actor, raw=spec.value
        )
        if spec.value is None:
            run.report.generated_tokens.append((name, created.raw))
        run.report.record("token", name, "created")
        return
    current = await tokens.limits_of(session, token)
    changed = [f for f in _LIMIT_FIELDS if getattr(current, f) != getattr(spec.limits, f)]
    limits = spec.limits if changed else None
    value = None
    if spec.value is not None and (
        tokens.hash_token(tokens.check_raw_token(spec.value)) != token.token_hash
    ):
        value = spec.value
        changed.append("value")
    if changed:
        await token_writes.update_token(
            session, token, run.actor, fields=changed, limits=limits, value=value
        )
    run.report.record("token", name, "updated" if changed else "unchanged", changed)


async def _apply_user(run: Run, tenant: Tenant, spec: UserSpec) -> None:
    session = run.session
    label = f"{tenant.name}/{spec.email}"
    user = await users.find_user_by_email(session, spec.email)
    if user is None:
        if spec.password is None:
            raise InvalidInput(f"user {label}: a password is needed to create the user")
        user = await users.create_user(session, spec.email, spec.password, name=spec.name)
        await members.add_member(session, tenant, user, spec.role, run.actor, user_created=True)
        run.report.record("user", label, "created")
        return
    changed: list[str] = []
    # compared with argon2 verify: the file holds the password, the row only its hash
    if spec.password is not None and users.set_password_if_changed(user, spec.password):
        changed.append("password")
    if spec.name and spec.name != user.name:
        user.name = spec.name
        changed.append("name")
    if changed:
        session.add(user)
        await session.flush()
        await record_by(
            session,
            run.actor,
            tenant_id=tenant.id,
            action="user.update",
            object_type="user",
            object_id=user.id,
            fields=list(changed),  # the names alone: never the password
        )
    # membership changes write their own audit rows (`users.members`)
    membership = await users.find_membership(session, tenant.id, user.id)
    if membership is None:
        await members.add_member(session, tenant, user, spec.role, run.actor)
        changed.append("membership")
    elif await members.change_role(session, membership, spec.role, run.actor):
        changed.append("role")
    run.report.record("user", label, "updated" if changed else "unchanged", changed)
