"""User tokens: generation, hashing and storage (hash + visible prefix only).

A token is ``jk-`` followed by 40 URL-safe random characters. The raw value
exists only in the return value of `create_token` (or `regenerate_token`); the database keeps its
SHA-256 (what the engine looks up) and its first characters (what an admin
recognises it by).
"""

from __future__ import annotations

import hashlib
import secrets
import string
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from junction_contracts.periods import PERIODS, check_timezone
from junction_control.bounds import check_amount, check_int
from junction_control.budgets.spend import reset_state, window_of
from junction_control.columns import utcnow
from junction_control.errors import Conflict, InvalidInput, NotFound
from junction_control.models.service import model_ids_for, model_names_by_id
from junction_control.naming import check_slug
from junction_control.route_changes import note_changed
from junction_control.tenants.models import Tenant
from junction_control.tokens.models import UserToken

TOKEN_PREFIX = "jk-"
TOKEN_RANDOM_CHARS = 40
VISIBLE_PREFIX_CHARS = 12
MIN_TOKEN_CHARS = 16
_ALPHABET = string.ascii_letters + string.digits + "-_"


@dataclass(frozen=True, slots=True)
class TokenLimits:
    """What a token may do; None means unrestricted.

    `allowed_models` are public model names: the service stores them as the
    models' ids and reads them back under the models' current names.
    """

    allowed_models: tuple[str, ...] | None = None
    rpm: int | None = None
    tpm: int | None = None
    budget_usd: float | None = None
    expires_at: datetime | None = None
    #: when the budget starts again: never, or at midnight in `budget_timezone`
    budget_period: str = "lifetime"
    budget_timezone: str = "UTC"

    def __post_init__(self) -> None:
        for what, value in (("rpm", self.rpm), ("tpm", self.tpm)):
            if value is not None:
                check_int(value, what, 1)
        if self.budget_usd is not None:
            check_amount(self.budget_usd, "budget_usd")
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise InvalidInput("expires_at needs a time zone")
        if self.budget_period not in PERIODS:
            raise InvalidInput(
                f"budget_period must be one of {', '.join(PERIODS)}, got {self.budget_period!r}"
            )
        try:
            check_timezone(self.budget_timezone)
        except ValueError as exc:
            raise InvalidInput(f"budget_timezone: {exc}") from None


@dataclass(frozen=True, slots=True)
class CreatedToken:
    """A stored token and the raw value, which is shown once and never again."""

    token: UserToken
    raw: str


def generate_token() -> str:
    """A fresh random token: ``jk-`` and 40 URL-safe characters."""
    return TOKEN_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(TOKEN_RANDOM_CHARS))


def hash_token(raw: str) -> str:
    """SHA-256 hex of a raw token: the value the engine sends to resolve routes."""
    return hashlib.sha256(raw.encode()).hexdigest()


def visible_prefix(raw: str) -> str:
    """The first characters of a token, stored so admins can tell tokens apart."""
    return raw[:VISIBLE_PREFIX_CHARS]


async def find_token(session: AsyncSession, tenant: Tenant, name: str) -> UserToken | None:
    """The token called `name` in `tenant`, if any."""
    result = await session.exec(
        select(UserToken).where(UserToken.tenant_id == tenant.id, UserToken.name == name)
    )
    return result.first()


async def find_token_by_hash(session: AsyncSession, token_hash: str) -> UserToken | None:
    """The token whose SHA-256 is `token_hash`, revoked or not."""
    result = await session.exec(select(UserToken).where(UserToken.token_hash == token_hash))
    return result.first()


async def create_token(
    session: AsyncSession,
    tenant: Tenant,
    name: str,
    limits: TokenLimits | None = None,
    *,
    raw: str | None = None,
    owner_user_id: str | None = None,
) -> CreatedToken:
    """Store a new token (flushed, not committed) and return its raw value once.

    `raw` fixes the value (declared demo tokens); otherwise one is generated.
    """
    check_slug(name, what="token")
    if await find_token(session, tenant, name) is not None:
        raise Conflict(f"token {name!r} already exists in tenant {tenant.name!r}")
    value = generate_token() if raw is None else check_raw_token(raw)
    digest = hash_token(value)
    if await find_token_by_hash(session, digest) is not None:
        raise Conflict("that token value is already in use")
    token = UserToken(
        tenant_id=tenant.id,
        name=name,
        prefix=visible_prefix(value),
        token_hash=digest,
        owner_user_id=owner_user_id,
    )
    limits = limits or TokenLimits()
    apply_limits(token, limits, await _model_ids(session, tenant.id, limits))
    session.add(token)
    await session.flush()
    if token.budget_period != "lifetime":
        await _new_period(session, token)
    return CreatedToken(token=token, raw=value)


def check_raw_token(raw: str) -> str:
    """`raw` if it is usable as a fixed token value, else InvalidInput."""
    if len(raw) < MIN_TOKEN_CHARS or any(c.isspace() for c in raw):
        raise InvalidInput(
            f"a token value needs at least {MIN_TOKEN_CHARS} characters and no spaces"
        )
    return raw


async def _model_ids(
    session: AsyncSession, tenant_id: str, limits: TokenLimits
) -> list[str] | None:
    """The ids of the models `limits` allows (None: all); NotFound for a name with no model."""
    if limits.allowed_models is None:
        return None
    return await model_ids_for(session, tenant_id, limits.allowed_models)


def apply_limits(token: UserToken, limits: TokenLimits, model_ids: list[str] | None) -> None:
    """Copy `limits` onto `token`, its models as `model_ids` (their ids)."""
    token.allowed_model_ids = model_ids
    token.rpm = limits.rpm
    token.tpm = limits.tpm
    token.budget_usd = limits.budget_usd
    token.expires_at = limits.expires_at
    token.budget_period = limits.budget_period
    token.budget_timezone = limits.budget_timezone


async def update_limits(session: AsyncSession, token: UserToken, limits: TokenLimits) -> None:
    """Give `token` new limits (flushed), its budget's period state following them.

    Engines hear of the change after the commit (`note_changed`).
    """
    moved = (token.budget_period, token.budget_timezone) != (
        limits.budget_period,
        limits.budget_timezone,
    )
    apply_limits(token, limits, await _model_ids(session, token.tenant_id, limits))
    session.add(token)
    await session.flush()
    if moved:
        await _new_period(session, token)
    note_changed(session, token.token_hash)


async def _new_period(session: AsyncSession, token: UserToken) -> None:
    """Write the state of the token's current budget period (none for a lifetime budget)."""
    now = time.time()
    window = window_of(token.budget_period, token.budget_timezone, now)
    await reset_state(await session.connection(), "key", token.id, token.tenant_id, window, now)


async def model_names(
    session: AsyncSession, tokens: Sequence[UserToken]
) -> dict[str, list[str] | None]:
    """Each token's allowed models under their current names (None: every model), by token id.

    An id whose model is gone is left out (deleting a model also drops it
    from the lists, so this only covers rows written before that rule).
    """
    names: dict[str, dict[str, str]] = {}
    found: dict[str, list[str] | None] = {}
    for token in tokens:
        if token.allowed_model_ids is None:
            found[token.id] = None
            continue
        if token.tenant_id not in names:
            names[token.tenant_id] = await model_names_by_id(session, token.tenant_id)
        current = names[token.tenant_id]
        found[token.id] = [current[i] for i in token.allowed_model_ids if i in current]
    return found


async def limits_of(session: AsyncSession, token: UserToken) -> TokenLimits:
    """The limits currently stored on `token`, its models under their current names."""
    models = (await model_names(session, [token]))[token.id]
    return TokenLimits(
        allowed_models=None if models is None else tuple(models),
        rpm=token.rpm,
        tpm=token.tpm,
        budget_usd=token.budget_usd,
        expires_at=token.expires_at,
        budget_period=token.budget_period,
        budget_timezone=token.budget_timezone,
    )


async def revoke_token(session: AsyncSession, token: UserToken) -> None:
    """Mark `token` revoked (it keeps resolving, so engines learn of the revocation)."""
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
        await session.flush()
        note_changed(session, token.token_hash)


async def regenerate_token(session: AsyncSession, token: UserToken) -> CreatedToken:
    """Give `token` a new value (flushed); the old one stops resolving from the commit on.

    The key keeps its id, name, owner, limits, budget and spend: only the hash
    and the visible prefix change. The old hash is noted as changed, so engines
    drop its cached route at once and the next lookup of it finds no key.
    A revoked key stays revoked: Conflict.
    """
    if token.revoked_at is not None:
        raise Conflict(f"token {token.name!r} is revoked; create a new one instead")
    value = generate_token()
    old_hash = token.token_hash
    token.token_hash = hash_token(value)
    token.prefix = visible_prefix(value)
    session.add(token)
    await session.flush()
    note_changed(session, old_hash)
    return CreatedToken(token=token, raw=value)


def tokens_query(tenant_id: str, *, owner_user_id: str | None = None) -> SelectOfScalar[UserToken]:
    """The tenant's tokens; only those of `owner_user_id` when given."""
    query = select(UserToken).where(UserToken.tenant_id == tenant_id)
    if owner_user_id is not None:
        query = query.where(UserToken.owner_user_id == owner_user_id)
    return query


async def get_token_by_id(
    session: AsyncSession, tenant_id: str, token_id: str, *, owner_user_id: str | None = None
) -> UserToken:
    """The token `token_id` of the tenant (of `owner_user_id` when given); NotFound otherwise."""
    result = await session.exec(
        tokens_query(tenant_id, owner_user_id=owner_user_id).where(UserToken.id == token_id)
    )
    token = result.first()
    if token is None:
        raise NotFound("token not found")
    return token
