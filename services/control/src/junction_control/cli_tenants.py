"""The shell's writes to tenants and their people: tenants, owners and members, users, credit.

Each runs in `commands.shell_work`: audited with the shell as actor, its
route changes announced after the commit. Member writes go through
`users.members`, as the admin API's do, so the last owner is kept here too.
"""

from __future__ import annotations

from typing import TextIO

from sqlmodel.ext.asyncio.session import AsyncSession

from junction_control.audit.service import record_by
from junction_control.commands import shell_work
from junction_control.credits import service as credits
from junction_control.errors import InvalidInput, NotFound
from junction_control.settings import ControlSettings
from junction_control.tenants import budgets as tenant_budgets
from junction_control.tenants import service as tenants
from junction_control.users import members
from junction_control.users import service as users
from junction_control.users.models import Membership, User


async def create_tenant(
    settings: ControlSettings, name: str, owner_email: str | None, out: TextIO
) -> None:
    """Add a tenant; with `owner_email`, that (existing) user is its first owner."""
    async with shell_work(settings) as work:
        owner = None if owner_email is None else await _user(work.session, owner_email)
        tenant = await tenants.open_tenant(work.session, name, owner, work.actor)
    line = f"tenant {tenant.name} created (id {tenant.id})"
    if owner is not None:
        line += f", owned by {owner.email}"
    print(line, file=out)
    if owner is None:
        print(
            f"warning: tenant {tenant.name} has no owner yet: add one with "
            f"`member add --tenant {tenant.name} --email E --role owner`",
            file=out,
        )


async def set_tenant_budget(
    settings: ControlSettings,
    *,
    tenant: str,
    spec: tenant_budgets.BudgetSpec | None,
    out: TextIO,
) -> None:
    """Set (or, with no spec, lift) a tenant's budget over all its keys; audited."""
    async with shell_work(settings) as work:
        owner = await tenants.get_tenant(work.session, tenant)
        if spec is None:
            lifted = await tenant_budgets.remove_budget(work.session, owner, work.actor)
        else:
            await tenant_budgets.set_budget(work.session, owner, spec, work.actor)
    if spec is None:
        print(f"tenant {tenant}: " + ("budget lifted" if lifted else "had no budget"), file=out)
    else:
        period = "" if spec.period == "lifetime" else f" {spec.period} ({spec.timezone})"
        print(f"tenant {tenant}: budget of {spec.limit_usd:.2f} USD{period}", file=out)


async def create_user(
    settings: ControlSettings,
    *,
    email: str,
    password: str,
    name: str,
    platform_admin: bool,
    tenant: str | None,
    role: str | None,
    out: TextIO,
) -> None:
    """Add an admin API user, optionally a platform admin and/or a member of a tenant."""
    if (tenant is None) != (role is None):
        raise InvalidInput("--tenant and --role go together")
    async with shell_work(settings) as work:
        user = await users.create_user(
            work.session, email, password, name=name, is_platform_admin=platform_admin
        )
        await record_by(
            work.session,
            work.actor,
            tenant_id=None,
            action="user.create",
            object_type="user",
            object_id=user.id,
            platform_admin=platform_admin,
        )
        if tenant is not None and role is not None:
            found = await tenants.get_tenant(work.session, tenant)
            await members.add_member(work.session, found, user, role, work.actor, user_created=True)
    line = f"user {user.email} created (id {user.id})"
    if platform_admin:
        line += " as platform admin"
    if tenant is not None:
        line += f", {role} of tenant {tenant}"
    print(line, file=out)


async def add_member(
    settings: ControlSettings,
    *,
    tenant: str,
    email: str,
    role: str,
    password: str | None,
    name: str,
    out: TextIO,
) -> None:
    """Give a user a role in a tenant, creating the user when `password` is given."""
    async with shell_work(settings) as work:
        found = await tenants.get_tenant(work.session, tenant)
        user = await users.find_user_by_email(work.session, email)
        created = user is None
        if user is None:
            if password is None:
                raise NotFound(f"no user has email {email!r}: give --password-env to create one")
            user = await users.create_user(work.session, email, password, name=name)
        await members.add_member(work.session, found, user, role, work.actor, user_created=created)
    print(
        f"{user.email} is now {role} of tenant {tenant}" + (" (new user)" if created else ""),
        file=out,
    )


async def set_member_role(
    settings: ControlSettings, *, tenant: str, email: str, role: str, out: TextIO
) -> None:
    """Change a member's role (LastOwner for the tenant's last owner); announced."""
    async with shell_work(settings) as work:
        membership, _ = await _member(work.session, tenant, email)
        before = membership.role
        changed = await members.change_role(work.session, membership, role, work.actor)
    if changed:
        print(f"{email} is now {role} of tenant {tenant} (was {before})", file=out)
    else:
        print(f"{email} was already {role} of tenant {tenant}", file=out)


async def remove_member(settings: ControlSettings, *, tenant: str, email: str, out: TextIO) -> None:
    """Take a member out of a tenant, revoking their keys there (LastOwner for the last owner)."""
    async with shell_work(settings) as work:
        membership, _ = await _member(work.session, tenant, email)
        revoked = await members.remove_member(work.session, membership, work.actor)
    print(f"{email} removed from tenant {tenant}; {revoked} key(s) revoked", file=out)


async def grant_credits(
    settings: ControlSettings,
    *,
    tenant: str,
    amount_usd: float,
    note: str,
    kind: str,
    out: TextIO,
) -> None:
    """Grant (or adjust) a tenant's credit; audited like the admin API's grants."""
    async with shell_work(settings) as work:
        owner = await tenants.get_tenant(work.session, tenant)
        entry = await credits.add_entry(work.session, owner, amount_usd, kind=kind, note=note)
        await record_by(
            work.session,
            work.actor,
            tenant_id=owner.id,
            action=f"credits.{kind}",
            object_type="credit_ledger",
            object_id=entry.id,
            amount_usd=entry.amount_usd,
        )
        balance = await credits.balance_of(work.session, owner.id)
    # announced after the commit: engines see the new credit at once
    print(f"{kind} of {amount_usd:.6f} USD to {tenant}: balance {balance:.6f} USD", file=out)


async def set_billing(
    settings: ControlSettings,
    *,
    tenant: str,
    billing: str,
    credit_limit_usd: float | None,
    out: TextIO,
) -> None:
    """Make a tenant prepaid or postpaid; audited like the admin API's change."""
    async with shell_work(settings) as work:
        owner = await tenants.get_tenant(work.session, tenant)
        account = await credits.set_billing(work.session, owner, billing, credit_limit_usd)
        await record_by(
            work.session,
            work.actor,
            tenant_id=owner.id,
            action="credits.billing",
            object_type="credit_account",
            object_id=owner.id,
            billing=billing,
            credit_limit_usd=credit_limit_usd,
        )
    limit = "" if account.credit_limit_usd is None else f", credit limit {credit_limit_usd} USD"
    print(f"tenant {tenant} is {billing}{limit}: balance {account.balance_usd:.6f} USD", file=out)


async def _user(session: AsyncSession, email: str) -> User:
    user = await users.find_user_by_email(session, email)
    if user is None or user.disabled:
        raise NotFound(f"no enabled user has email {email!r}: create it with `user create`")
    return user


async def _member(session: AsyncSession, tenant: str, email: str) -> tuple[Membership, User]:
    found = await tenants.get_tenant(session, tenant)
    user = await users.find_user_by_email(session, email)
    membership = None if user is None else await users.find_membership(session, found.id, user.id)
    if user is None or membership is None:
        raise NotFound(f"{email!r} is not a member of tenant {tenant!r}")
    return membership, user
