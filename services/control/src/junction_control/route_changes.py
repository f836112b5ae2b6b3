"""Telling every engine replica at once that a key's route changed.

Writes that change what a key may do (revoke, edit) note the key's hash on
the database session; writes to a tenant's providers, credentials or models
note the tenant, which stands for every live key of it. After the commit,
the notes are published: the shared route entry is deleted from Redis and
the hash goes out on the channel every engine listens to. Without Redis (or
while it is down) nothing is lost: the engines' route TTL bounds how long
the old route lives.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from junction_contracts.cache import ROUTE_KEY_PREFIX, ROUTES_CHANGED_CHANNEL
from junction_control.tokens.models import UserToken

log = logging.getLogger(__name__)

_SESSION_KEY = "junction.changed_token_hashes"
_TENANTS_KEY = "junction.changed_tenants"


def note_changed(session: AsyncSession, token_hash: str) -> None:
    """Remember, on this session, that the route of `token_hash` changed."""
    session.info.setdefault(_SESSION_KEY, set()).add(token_hash)


def note_tenant_changed(session: AsyncSession, tenant_id: str) -> None:
    """Remember that every route of a tenant changed (its providers, keys or models)."""
    session.info.setdefault(_TENANTS_KEY, set()).add(tenant_id)


async def note_live_tokens(session: AsyncSession, tenant_id: str) -> None:
    """Note every live key of a tenant now, for a write that is about to delete them.

    `note_tenant_changed` expands after the commit, when a deleted tenant's
    keys are gone; this looks them up while they still exist.
    """
    rows = await session.exec(
        select(UserToken.token_hash).where(
            UserToken.tenant_id == tenant_id, col(UserToken.revoked_at).is_(None)
        )
    )
    for token_hash in rows.all():
        note_changed(session, token_hash)


async def take_changed(session: AsyncSession) -> set[str]:
    """The hashes noted on `session`, tenants expanded to their live keys (then forgotten)."""
    found: set[str] = session.info.pop(_SESSION_KEY, set())
    tenants: set[str] = session.info.pop(_TENANTS_KEY, set())
    if tenants:
        rows = await session.exec(
            select(UserToken.token_hash).where(
                col(UserToken.tenant_id).in_(sorted(tenants)),
                col(UserToken.revoked_at).is_(None),
            )
        )
        found.update(rows.all())
    return found


class RouteChanges:
    """Publishes changed routes; a no-op without Redis."""

    def __init__(self, redis_url: str | None) -> None:
        self._redis = (
            Redis.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
            if redis_url
            else None
        )

    async def publish(self, token_hashes: set[str]) -> None:
        if self._redis is None or not token_hashes:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for token_hash in sorted(token_hashes):
                    pipe.delete(ROUTE_KEY_PREFIX + token_hash)
                    pipe.publish(ROUTES_CHANGED_CHANNEL, token_hash)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning(
                "could not publish %d route changes (%s); engines catch up within their TTL",
                len(token_hashes),
                type(exc).__name__,
            )

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
