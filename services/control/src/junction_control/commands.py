"""What each `junction-control` command does, given parsed arguments.

Every command that touches the database first brings the schema up to date,
then works in one transaction. Output goes to stdout; errors are raised as
ControlError subclasses for `cli.main` to print.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from sqlmodel.ext.asyncio.session import AsyncSession

from junction_contracts.envfile import read_env_file
from junction_control.alerts import service as alerts
from junction_control.audit.service import record
from junction_control.columns import utcnow
from junction_control.credits import service as credits
from junction_control.crypto import next_master_key
from junction_control.db import Database
from junction_control.declarative import apply_spec, load_spec
from junction_control.errors import ConfigError, InvalidInput
from junction_control.models import service as models
from junction_control.providers import service as providers
from junction_control.route_changes import RouteChanges, note_tenant_changed, take_changed
from junction_control.secret_files import write_secret_file
from junction_control.settings import ControlSettings
from junction_control.tenants import budgets as tenant_budgets
from junction_control.tenants import service as tenants
from junction_control.tokens import service as tokens
from junction_control.usage import service as usage
from junction_control.usage.rollup import prune_calls, rollup_hours
from junction_control.users import service as users


@dataclass(frozen=True, slots=True)
class DeploymentArg:
    """``PROVIDER:UPSTREAM_MODEL[:PRIORITY[:WEIGHT]]`` from the command line."""

    provider: str
    upstream_model: str
    priority: int = 0
    weight: int = 1

    @classmethod
    def parse(cls, text: str) -> DeploymentArg:
        """Parse the argument; trailing whole numbers are priority and weight.

        Upstream names may contain ":" (``ollama:llama3:8b``); a name ending in
        a number after ":" then needs explicit priority and weight.
        """
        provider, sep, rest = text.partition(":")
        parts = rest.split(":")
        numbers: list[int] = []
        while len(parts) > 1 and len(numbers) < 2 and _is_int(parts[-1]):
            numbers.insert(0, int(parts.pop()))
        upstream = ":".join(parts)
        if not sep or not provider or not upstream:
            raise InvalidInput(
                f"--deployment {text!r} must be PROVIDER:UPSTREAM_MODEL[:PRIORITY[:WEIGHT]]"
            )
        priority = numbers[0] if numbers else 0
        weight = numbers[1] if len(numbers) > 1 else 1
        return cls(provider, upstream, priority, weight)


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


MAX_EXPIRY_DAYS = 100 * 366  # past it the date overflows


def process_environ() -> dict[str, str]:
    """The process environment over `./.env`: where ``env:VAR`` values come from."""
    return {**read_env_file(Path(".env")), **os.environ}


@asynccontextmanager
async def migrated_session(settings: ControlSettings) -> AsyncIterator[AsyncSession]:
    """A session on an up-to-date schema, committed when the block succeeds."""
    database = Database(settings.database_url)
    try:
        await database.migrate()
        async with database.session() as session:
            yield session
            await session.commit()
    finally:
        await database.dispose()


async def migrate(settings: ControlSettings, out: TextIO) -> None:
    """Apply every pending migration."""
    database = Database(settings.database_url)
    try:
        await database.migrate()
    finally:
        await database.dispose()
    print("database schema is up to date", file=out)


async def create_tenant(settings: ControlSettings, name: str, out: TextIO) -> None:
    """Add a tenant."""
    async with migrated_session(settings) as session:
        tenant = await tenants.create_tenant(session, name)
    print(f"tenant {tenant.name} created (id {tenant.id})", file=out)


async def create_provider(
    settings: ControlSettings,
    *,
    tenant: str,
    name: str,
    type: str,
    base_url: str,
    key: str | None,
    key_name: str,
    headers: Mapping[str, str],
    out: TextIO,
) -> None:
    """Add a provider and, when given, its first key."""
    async with migrated_session(settings) as session:
        owner = await tenants.get_tenant(session, tenant)
        provider = await providers.create_provider(
            session,
            owner,
            name,
            type=type,
            base_url=base_url,
            egress=settings.egress,
            extra_headers=headers,
            keyring=settings.keyring,
        )
        credential = None
        if key is not None:
            credential = await providers.add_credential(
                session, settings.keyring, provider, key_name, key
            )
    line = f"provider {tenant}/{provider.name} created (id {provider.id})"
    if credential is not None:
        line += f" with key {credential.name} ending in {credential.key_last4 or '****'}"
    print(line, file=out)


async def create_model(
    settings: ControlSettings,
    *,
    tenant: str,
    name: str,
    deployments: Sequence[DeploymentArg],
    pricing: models.ModelPricing,
    out: TextIO,
) -> None:
    """Add a model with its deployments."""
    async with migrated_session(settings) as session:
        owner = await tenants.get_tenant(session, tenant)
        model = await models.create_model(session, owner, name, pricing)
        for d in deployments:
            provider = await providers.get_provider(session, owner, d.provider)
            await models.add_deployment(
                session, model, provider, d.upstream_model, priority=d.priority, weight=d.weight
            )
    print(f"model {tenant}/{model.name} created with {len(deployments)} deployment(s)", file=out)
    if not pricing.priced:
        print(f"warning: {models.UNPRICED.format(name=f'{tenant}/{model.name}')}", file=out)


async def create_token(
    settings: ControlSettings,
    *,
    tenant: str,
    name: str,
    limits: tokens.TokenLimits,
    expires_in_days: float | None,
    as_json: bool,
    out: TextIO,
) -> None:
    """Add a token and print its raw value, the only time it is ever shown."""
    if expires_in_days is not None:
        if not 0 < expires_in_days <= MAX_EXPIRY_DAYS:  # NaN fails too
            raise InvalidInput(
                f"--expires-in-days must be a number above 0 and at most {MAX_EXPIRY_DAYS}"
            )
        limits = replace(limits, expires_at=utcnow() + timedelta(days=expires_in_days))
    async with migrated_session(settings) as session:
        owner = await tenants.get_tenant(session, tenant)
        if limits.allowed_models:
            await models.check_models_exist(session, owner, limits.allowed_models)
        created = await tokens.create_token(session, owner, name, limits)
    token = created.token
    if as_json:
        print(
            json.dumps(
                {
                    "id": token.id,
                    "tenant": tenant,
                    "name": token.name,
                    "prefix": token.prefix,
                    "token": created.raw,
                    "expires_at": None
                    if token.expires_at is None
                    else token.expires_at.isoformat(),
                }
            ),
            file=out,
        )
        return
    print(f"token {tenant}/{token.name} created (id {token.id})", file=out)
    print("store it now, it is not shown again:", file=out)
    print(created.raw, file=out)


async def _publish_changes(settings: ControlSettings, token_hashes: set[str]) -> None:
    changes = RouteChanges(settings.redis_url)
    try:
        await changes.publish(token_hashes)
    finally:
        await changes.close()


async def revoke_token(settings: ControlSettings, *, tenant: str, name: str, out: TextIO) -> None:
    """Revoke a token; with Redis, every engine refuses it at once (else within its TTL)."""
    async with migrated_session(settings) as session:
        owner = await tenants.get_tenant(session, tenant)
        token = await tokens.find_token(session, owner, name)
        if token is None:
            raise InvalidInput(f"token {name!r} does not exist in tenant {tenant!r}")
        await tokens.revoke_token(session, token)
        changed = await take_changed(session)
    await _publish_changes(settings, changed)
    print(f"token {tenant}/{name} revoked", file=out)


async def apply_file(
    settings: ControlSettings, path: Path, environ: Mapping[str, str], out: TextIO
) -> None:
    """Make the database match a declarative file and print what changed."""
    spec = load_spec(path, environ)
    async with migrated_session(settings) as session:
        report = await apply_spec(session, settings.keyring, spec, egress=settings.egress)
        if report.changed:
            # providers, keys or models may have moved: every key of these tenants
            for declared in spec.tenants:
                found = await tenants.find_tenant(session, declared.name)
                if found is not None:
                    note_tenant_changed(session, found.id)
        changed = await take_changed(session)
    await _publish_changes(settings, changed)
    for change in report.changes:
        print(change.line(), file=out)
    for warning in report.warnings:
        print(f"warning: {warning}", file=out)
    for name, raw in report.generated_tokens:
        print(f"token {name} value (shown once): {raw}", file=out)
    print(report.summary(), file=out)


async def add_master_key(settings: ControlSettings, out: TextIO) -> None:
    """Add a new newest master key to the key file (step 1 of a rotation)."""
    if settings.master_key_file is None:
        raise ConfigError(
            "the master keyring comes from JUNCTION_MASTER_KEY: add the new key there "
            "(vN:base64, keeping the old ones), restart, then run rotate-master-key"
        )
    keyring = settings.keyring.with_key(next_master_key(settings.keyring))
    write_secret_file(settings.master_key_file, keyring.to_text(), what="master key")
    print(f"added master key {keyring.primary.version} to {settings.master_key_file}", file=out)
    print("restart every control process, then run: junction-control rotate-master-key", file=out)


async def rotate_master_key(settings: ControlSettings, out: TextIO) -> None:
    """Re-wrap every credential under the newest master key (step 2 of a rotation).

    Running processes must already know that key (they load the keyring at
    start), which is why adding it is a separate step.
    """
    async with migrated_session(settings) as session:
        count = await providers.rewrap_credentials(session, settings.keyring)
        count += await alerts.rewrap_secrets(session, settings.keyring)
    version = settings.keyring.primary.version
    print(f"re-wrapped {count} credential(s) under master key {version}", file=out)


async def reap_stuck_calls(settings: ControlSettings, older_than_minutes: int, out: TextIO) -> None:
    """Mark calls processing for longer than the threshold as failed (stuck), once."""
    async with migrated_session(settings) as session:
        count = await usage.reap_stuck_calls(
            session, older_than=timedelta(minutes=older_than_minutes)
        )
    print(
        f"marked {count} call(s) processing for over {older_than_minutes} minute(s) "
        "as failed (stuck)",
        file=out,
    )


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
    async with migrated_session(settings) as session:
        user = await users.create_user(
            session, email, password, name=name, is_platform_admin=platform_admin
        )
        if tenant is not None and role is not None:
            owner = await tenants.get_tenant(session, tenant)
            await users.add_membership(session, owner, user, role)
    line = f"user {user.email} created (id {user.id})"
    if platform_admin:
        line += " as platform admin"
    if tenant is not None:
        line += f", {role} of tenant {tenant}"
    print(line, file=out)


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
    async with migrated_session(settings) as session:
        owner = await tenants.get_tenant(session, tenant)
        entry = await credits.add_entry(session, owner, amount_usd, kind=kind, note=note)
        await record(
            session,
            tenant_id=owner.id,
            user_id=None,  # the shell: no admin user
            action=f"credits.{kind}",
            object_type="credit_ledger",
            object_id=entry.id,
            details={"amount_usd": entry.amount_usd, "via": "cli"},
        )
        balance = await credits.balance_of(session, owner.id)
        changed = await take_changed(session)
    await _publish_changes(settings, changed)  # engines see the new credit at once
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
    async with migrated_session(settings) as session:
        owner = await tenants.get_tenant(session, tenant)
        account = await credits.set_billing(session, owner, billing, credit_limit_usd)
        await record(
            session,
            tenant_id=owner.id,
            user_id=None,  # the shell: no admin user
            action="credits.billing",
            object_type="credit_account",
            object_id=owner.id,
            details={"billing": billing, "credit_limit_usd": credit_limit_usd, "via": "cli"},
        )
        changed = await take_changed(session)
    await _publish_changes(settings, changed)
    limit = "" if account.credit_limit_usd is None else f", credit limit {credit_limit_usd} USD"
    print(f"tenant {tenant} is {billing}{limit}: balance {account.balance_usd:.6f} USD", file=out)


async def set_tenant_budget(
    settings: ControlSettings,
    *,
    tenant: str,
    spec: tenant_budgets.BudgetSpec | None,
    out: TextIO,
) -> None:
    """Set (or, with no spec, lift) a tenant's budget over all its keys; audited."""
    async with migrated_session(settings) as session:
        owner = await tenants.get_tenant(session, tenant)
        actor = tenant_budgets.Actor(via="cli")
        if spec is None:
            lifted = await tenant_budgets.remove_budget(session, owner, actor)
        else:
            await tenant_budgets.set_budget(session, owner, spec, actor)
        changed = await take_changed(session)
    await _publish_changes(settings, changed)
    if spec is None:
        print(f"tenant {tenant}: " + ("budget lifted" if lifted else "had no budget"), file=out)
    else:
        period = "" if spec.period == "lifetime" else f" {spec.period} ({spec.timezone})"
        print(f"tenant {tenant}: budget of {spec.limit_usd:.2f} USD{period}", file=out)


async def rollup(
    settings: ControlSettings, *, since_hours: int | None, prune: bool, out: TextIO
) -> None:
    """Roll usage up per hour once (and, with `prune`, delete calls past retention)."""
    now = utcnow()
    since = None if since_hours is None else now - timedelta(hours=since_hours)
    async with migrated_session(settings) as session:
        result = await rollup_hours(
            session, until=now, since=since, retention=timedelta(days=settings.call_retention_days)
        )
    print(
        f"rolled up {result.rows} row(s) for the hours {result.start.isoformat()} "
        f"to {result.end.isoformat()}",
        file=out,
    )
    if prune:
        days = settings.call_retention_days
        async with migrated_session(settings) as session:
            count = await prune_calls(session, retention=timedelta(days=days), now=now)
        print(f"pruned {count} call(s) older than {days} day(s)", file=out)
