"""Token writes, with their side effects, for every path: admin API, CLI and ``apply -f``.

Each one makes the change (`service`), appends its audit row and notes the
key's route as changed, in the caller's unit of work: whoever commits the
session commits the three together, and announces the route after it.
Audit details are names and the visible prefix, never a token value.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from junction_control.audit.actor import Actor
from junction_control.audit.service import record_by
from junction_control.errors import Conflict
from junction_control.route_changes import note_changed
from junction_control.tenants.models import Tenant
from junction_control.tokens import service
from junction_control.tokens.models import UserToken


async def create_token(
    session: AsyncSession,
    tenant: Tenant,
    name: str,
    limits: service.TokenLimits | None,
    actor: Actor,
    *,
    raw: str | None = None,
    owner_user_id: str | None = None,
) -> service.CreatedToken:
    """Store a new token, audited; its raw value is in the result, once."""
    created = await service.create_token(
        session, tenant, name, limits, raw=raw, owner_user_id=owner_user_id
    )
    await _audit(session, actor, created.token, "create", name=name, prefix=created.token.prefix)
    return created


async def update_token(
    session: AsyncSession,
    token: UserToken,
    actor: Actor,
    *,
    fields: Sequence[str],
    limits: service.TokenLimits | None = None,
    value: str | None = None,
) -> None:
    """Give `token` new `limits` and/or a fixed `value`, audited as a change of `fields`.

    A new value stops the old one at once (its route is announced as gone);
    Conflict when another token already has that value.
    """
    if limits is not None:
        await service.update_limits(session, token, limits)
    if value is not None:
        digest = service.hash_token(service.check_raw_token(value))
        if digest != token.token_hash:
            other = await service.find_token_by_hash(session, digest)
            if other is not None:
                raise Conflict(f"token {token.name!r}: that value is already used by another token")
            note_changed(session, token.token_hash)  # the old value stops working
            token.token_hash = digest
            token.prefix = service.visible_prefix(value)
            session.add(token)
            await session.flush()
    await _audit(session, actor, token, "update", fields=sorted(fields))


async def revoke_token(session: AsyncSession, token: UserToken, actor: Actor) -> None:
    """Revoke `token` (engines told after the commit), audited."""
    await service.revoke_token(session, token)
    await _audit(session, actor, token, "revoke", name=token.name)


async def regenerate_token(
    session: AsyncSession, token: UserToken, actor: Actor
) -> service.CreatedToken:
    """Give `token` a new value (the old one stops at the commit), audited."""
    fresh = await service.regenerate_token(session, token)
    await _audit(session, actor, token, "regenerate", name=token.name)
    return fresh


async def _audit(
    session: AsyncSession, actor: Actor, token: UserToken, verb: str, **details: object
) -> None:
    await record_by(
        session,
        actor,
        tenant_id=token.tenant_id,
        action=f"token.{verb}",
        object_type="token",
        object_id=token.id,
        **details,
    )
