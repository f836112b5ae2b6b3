"""Building the route of one token: what the engine needs to serve its calls.

The route lists the models the token may use, each with its enabled
deployments, each with its provider and active credentials. Provider keys are
decrypted from the database and re-sealed for the engine (see
`junction_contracts.sealing` and `sealed_keys`), so no plain key leaves this
module.

Two Core queries, no ORM objects: the token joined to its tenant's models,
their enabled deployments and those deployments' providers (one row per
deployment), then the active credentials of those providers. A resolve is
what an engine does on every cache miss, so it must stay cheap when many
engines start at once.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from junction_contracts.route import (
    CredentialRoute,
    DeploymentRoute,
    ModelRoute,
    Pricing,
    ProviderRoute,
    ProviderType,
    Route,
    TokenRoute,
)
from junction_control.crypto import EncryptedSecret
from junction_control.errors import CryptoError
from junction_control.internal.sealed_keys import SealedKeys
from junction_control.models.models import AiModel, Deployment
from junction_control.providers.models import Credential, Provider
from junction_control.tokens.models import UserToken

log = logging.getLogger(__name__)

# a row of _ROUTE_ROWS, read by column name
RouteRow = Row[*tuple[Any, ...]]

_tokens: Table = UserToken.__table__  # type: ignore[attr-defined]
_models: Table = AiModel.__table__  # type: ignore[attr-defined]
_deployments: Table = Deployment.__table__  # type: ignore[attr-defined]
_providers: Table = Provider.__table__  # type: ignore[attr-defined]
_credentials: Table = Credential.__table__  # type: ignore[attr-defined]

_t, _m, _d, _p, _c = (t.c for t in (_tokens, _models, _deployments, _providers, _credentials))

# the token, and one row per (model, enabled deployment) of its tenant; a model
# without deployments still has its row, with NULL deployment columns
_ROUTE_ROWS = (
    select(
        _t.id,
        _t.tenant_id,
        _t.name,
        _t.prefix,
        _t.revoked_at,
        _t.expires_at,
        _t.allowed_models,
        _t.rpm,
        _t.tpm,
        _t.budget_usd,
        _t.spent_usd,
        _m.id.label("model_id"),
        _m.name.label("model_name"),
        _m.input_price_per_mtok,
        _m.output_price_per_mtok,
        _m.cached_input_price_per_mtok,
        _m.created_at.label("model_created_at"),
        _d.id.label("deployment_id"),
        _d.provider_id,
        _d.upstream_model,
        _d.priority,
        _d.weight,
        _p.name.label("provider_name"),
        _p.type.label("provider_type"),
        _p.base_url,
        _p.extra_headers,
    )
    .select_from(
        _tokens.outerjoin(_models, _m.tenant_id == _t.tenant_id)
        .outerjoin(_deployments, and_(_d.model_id == _m.id, _d.enabled.is_(True)))
        .outerjoin(_providers, _p.id == _d.provider_id)
    )
    .where(_t.token_hash == bindparam("token_hash"))
    .order_by(_m.name, _d.priority, _d.created_at, _d.id)
)
# the tenant's active credentials: by tenant, not by the providers in use, so the
# statement has one fixed parameter (an expanding IN costs more than the rows it saves)
_CREDENTIAL_ROWS = (
    select(
        _c.id,
        _c.provider_id,
        _c.weight,
        _c.key_ciphertext,
        _c.key_nonce,
        _c.wrapped_data_key,
        _c.key_version,
    )
    .join(_providers, _p.id == _c.provider_id)
    .where(_p.tenant_id == bindparam("tenant_id"), _c.status == "active")
    .order_by(_c.created_at, _c.id)
)


async def resolve_route(
    conn: AsyncConnection,
    token_hash: str,
    *,
    sealed_keys: SealedKeys,
    on_undecryptable: Callable[[str], None] = lambda _id: None,
) -> Route | None:
    """The route of the token whose SHA-256 is `token_hash`; None if there is none.

    Revoked and expired tokens resolve too: the route says so, and the engine
    refuses their calls (and caches that answer). `on_undecryptable` hears the
    id of each credential left out because its key does not open.
    """
    rows = (await conn.execute(_ROUTE_ROWS, {"token_hash": token_hash})).all()
    if not rows:
        return None
    token = rows[0]
    allowed = None if token.allowed_models is None else set(token.allowed_models)
    rows = [
        r for r in rows if r.model_id is not None and (allowed is None or r.model_name in allowed)
    ]
    provider_ids = {r.provider_id for r in rows if r.deployment_id is not None}
    sealed = await _sealed_credentials(
        conn, token.tenant_id, provider_ids, sealed_keys, on_undecryptable
    )

    models: dict[str, tuple[RouteRow, list[DeploymentRoute]]] = {}
    providers: dict[str, ProviderRoute] = {}
    for r in rows:
        _model, deployments = models.setdefault(r.model_id, (r, []))
        if r.deployment_id is None:
            continue
        provider = providers.get(r.provider_id)
        if provider is None:
            provider = providers[r.provider_id] = _provider_route(r)
        deployments.append(
            DeploymentRoute(
                id=r.deployment_id,
                provider=provider,
                upstream_model=r.upstream_model,
                priority=r.priority,
                weight=r.weight,
                credentials=sealed.get(r.provider_id, ()),
            )
        )
    return Route(
        token=_token_route(token),
        models=tuple(_model_route(m, deployments) for m, deployments in models.values()),
        issued_at=time.time(),
    )


async def _sealed_credentials(
    conn: AsyncConnection,
    tenant_id: str,
    provider_ids: set[str],
    sealed_keys: SealedKeys,
    on_undecryptable: Callable[[str], None],
) -> dict[str, tuple[CredentialRoute, ...]]:
    """The active credentials of each provider in use, keys sealed, in their stored order."""
    if not provider_ids:
        return {}
    rows = await conn.execute(_CREDENTIAL_ROWS, {"tenant_id": tenant_id})
    sealed: dict[str, list[CredentialRoute]] = defaultdict(list)
    for c in rows:
        if c.provider_id not in provider_ids:
            continue
        secret = EncryptedSecret(c.key_ciphertext, c.key_nonce, c.wrapped_data_key, c.key_version)
        try:
            key = sealed_keys.sealed(c.id, secret)
        except CryptoError:
            # one unreadable key must not take every model of the token down
            log.warning("credential %s left out of a route: its key does not decrypt", c.id)
            on_undecryptable(c.id)
            continue
        sealed[c.provider_id].append(CredentialRoute(id=c.id, sealed_key=key, weight=c.weight))
    return {provider_id: tuple(routes) for provider_id, routes in sealed.items()}


def _token_route(r: RouteRow) -> TokenRoute:
    return TokenRoute(
        id=r.id,
        tenant_id=r.tenant_id,
        name=r.name,
        prefix=r.prefix,
        revoked=r.revoked_at is not None,
        expires_at=None if r.expires_at is None else r.expires_at.timestamp(),
        allowed_models=None if r.allowed_models is None else tuple(r.allowed_models),
        rpm=r.rpm,
        tpm=r.tpm,
        budget_usd=r.budget_usd,
        spent_usd=r.spent_usd,
    )


def _model_route(r: RouteRow, deployments: Sequence[DeploymentRoute]) -> ModelRoute:
    return ModelRoute(
        name=r.model_name,
        deployments=tuple(deployments),
        pricing=Pricing(
            input_per_mtok=r.input_price_per_mtok,
            output_per_mtok=r.output_price_per_mtok,
            cached_input_per_mtok=r.cached_input_price_per_mtok,
        ),
        created=int(r.model_created_at.timestamp()),
    )


def _provider_route(r: RouteRow) -> ProviderRoute:
    return ProviderRoute(
        id=r.provider_id,
        name=r.provider_name,
        type=cast(ProviderType, r.provider_type),
        base_url=r.base_url,
        extra_headers=dict(r.extra_headers),
    )
