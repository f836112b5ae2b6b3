"""What each `junction-control` command does, given parsed arguments.

Every command that touches the database first brings the schema up to date,
then works in one transaction. A write runs in `shell_work`, the shell's unit
of work: its audit rows name the shell as actor (``cli`` or ``apply``, with
the OS user) and its route changes are announced after the commit, as the
admin API's are. Output goes to stdout; errors are raised as ControlError
subclasses for `cli.main` to print. The tenant and catalogue writes are in
`cli_tenants` and `cli_catalog`, the reads in `cli_views`.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from sqlmodel.ext.asyncio.session import AsyncSession

from junction_contracts.envfile import read_env_file
from junction_control.alerts import service as alerts
from junction_control.audit.actor import Actor
from junction_control.audit.service import record_by
from junction_control.columns import utcnow
from junction_control.crypto import next_master_key
from junction_control.db import Database
from junction_control.declarative import apply_spec, load_spec
from junction_control.errors import ConfigError, InvalidInput
from junction_control.models import service as models
from junction_control.providers import service as providers
from junction_control.route_changes import RouteChanges, take_changed
from junction_control.secret_files import write_secret_file
from junction_control.settings import ControlSettings
from junction_control.tenants import service as tenants
from junction_control.tokens import service as tokens
from junction_control.tokens import writes as token_writes
from junction_control.usage import service as usage
from junction_control.usage.rollup import prune_calls, rollup_hours

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


@dataclass(frozen=True, slots=True)
class ShellWork:
    """A write from the shell: its session and the actor its audit rows name."""

    session: AsyncSession
    actor: Actor


@asynccontextmanager
async def shell_work(settings: ControlSettings, via: str = "cli") -> AsyncIterator[ShellWork]:
    """One audited write: committed when the block succeeds, then its route changes announced."""
    async with migrated_session(settings) as session:
        yield ShellWork(session, Actor.shell(via))
        changed = await take_changed(session)
    await publish_changes(settings, changed)


async def publish_changes(settings: ControlSettings, token_hashes: set[str]) -> None:
    """Tell every engine (through Redis, when configured) that these keys' routes changed."""
    changes = RouteChanges(settings.redis_url)
    try:
        await changes.publish(token_hashes)
    finally:
        await changes.close()


async def migrate(settings: ControlSettings, out: TextIO) -> None:
    """Apply every pending migration."""
    database = Database(settings.database_url)
    try:
        await database.migrate()
    finally:
        await database.dispose()
    print("database schema is up to date", file=out)


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
    async with shell_work(settings) as work:
        owner = await tenants.get_tenant(work.session, tenant)
        if limits.allowed_models:
            await models.check_models_exist(work.session, owner, limits.allowed_models)
        created = await token_writes.create_token(work.session, owner, name, limits, work.actor)
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


async def revoke_token(settings: ControlSettings, *, tenant: str, name: str, out: TextIO) -> None:
    """Revoke a token; with Redis, every engine refuses it at once (else within its TTL)."""
    async with shell_work(settings) as work:
        owner = await tenants.get_tenant(work.session, tenant)
        token = await tokens.find_token(work.session, owner, name)
        if token is None:
            raise InvalidInput(f"token {name!r} does not exist in tenant {tenant!r}")
        await token_writes.revoke_token(work.session, token, work.actor)
    print(f"token {tenant}/{name} revoked", file=out)


async def apply_file(
    settings: ControlSettings, path: Path, environ: Mapping[str, str], out: TextIO
) -> None:
    """Make the database match a declarative file and print what changed."""
    spec = load_spec(path, environ)
    async with shell_work(settings, via="apply") as work:
        # each write notes the routes it changes, as on the admin API
        report = await apply_spec(
            work.session, settings.keyring, spec, egress=settings.egress, actor=work.actor
        )
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
    async with shell_work(settings) as work:
        count = await providers.rewrap_credentials(work.session, settings.keyring)
        count += await alerts.rewrap_secrets(work.session, settings.keyring)
        version = settings.keyring.primary.version
        await record_by(
            work.session,
            work.actor,
            tenant_id=None,
            action="master_key.rotate",
            object_type="master_key",
            object_id=version,
            rewrapped=count,
        )
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
