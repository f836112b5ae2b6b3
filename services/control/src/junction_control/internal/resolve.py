"""Building the route of one token: what the engine needs to serve its calls.

The route lists the models the token may use, each with its enabled
deployments, each with its provider and active credentials. Provider keys are
decrypted from the database and re-sealed for the engine (see
`junction_contracts.sealing`), so no plain key leaves this module.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import cast

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

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
from junction_contracts.sealing import seal
from junction_control.crypto import Keyring
from junction_control.errors import CryptoError
from junction_control.models.models import AiModel, Deployment
from junction_control.providers.models import Credential, Provider
from junction_control.providers.service import credential_key
from junction_control.tokens.models import UserToken
from junction_control.tokens.service import find_token_by_hash

log = logging.getLogger(__name__)


async def resolve_route(
    session: AsyncSession,
    token_hash: str,
    *,
    keyring: Keyring,
    sealing_key: bytes,
    on_undecryptable: Callable[[Credential], None] = lambda _c: None,
) -> Route | None:
    """The route of the token whose SHA-256 is `token_hash`; None if there is none.

    Revoked and expired tokens resolve too: the route says so, and the engine
    refuses their calls (and caches that answer).
    """
    token = await find_token_by_hash(session, token_hash)
    if token is None:
        return None
    models = await _models(session, token)
    deployments = await _deployments(session, [m.id for m in models])
    provider_ids = sorted({d.provider_id for d in deployments})
    providers = await _providers(session, provider_ids)
    credentials = await _credentials(session, provider_ids)

    sealed: dict[str, list[CredentialRoute]] = defaultdict(list)
    for credential in credentials:
        try:
            key = credential_key(keyring, credential)
        except CryptoError:
            # one unreadable key must not take every model of the token down
            log.warning(
                "credential %s left out of a route: its key does not decrypt", credential.id
            )
            on_undecryptable(credential)
            continue
        sealed[credential.provider_id].append(
            CredentialRoute(
                id=credential.id,
                sealed_key=seal(sealing_key, key, context=credential.id),
                weight=credential.weight,
            )
        )

    by_model: dict[str, list[DeploymentRoute]] = defaultdict(list)
    for d in deployments:
        provider = providers[d.provider_id]
        by_model[d.model_id].append(
            DeploymentRoute(
                id=d.id,
                provider=_provider_route(provider),
                upstream_model=d.upstream_model,
                priority=d.priority,
                weight=d.weight,
                credentials=tuple(sealed.get(provider.id, ())),
            )
        )
    return Route(
        token=_token_route(token, token.spent_usd),
        models=tuple(_model_route(m, by_model.get(m.id, [])) for m in models),
        issued_at=time.time(),
    )


def _token_route(token: UserToken, spent: float) -> TokenRoute:
    return TokenRoute(
        id=token.id,
        tenant_id=token.tenant_id,
        name=token.name,
        prefix=token.prefix,
        revoked=token.revoked_at is not None,
        expires_at=None if token.expires_at is None else token.expires_at.timestamp(),
        allowed_models=None if token.allowed_models is None else tuple(token.allowed_models),
        rpm=token.rpm,
        tpm=token.tpm,
        budget_usd=token.budget_usd,
        spent_usd=spent,
    )


def _model_route(model: AiModel, deployments: Sequence[DeploymentRoute]) -> ModelRoute:
    return ModelRoute(
        name=model.name,
        deployments=tuple(deployments),
        pricing=Pricing(
            input_per_mtok=model.input_price_per_mtok,
            output_per_mtok=model.output_price_per_mtok,
            cached_input_per_mtok=model.cached_input_price_per_mtok,
        ),
        created=int(model.created_at.timestamp()),
    )


def _provider_route(provider: Provider) -> ProviderRoute:
    return ProviderRoute(
        id=provider.id,
        name=provider.name,
        type=cast(ProviderType, provider.type),
        base_url=provider.base_url,
        extra_headers=dict(provider.extra_headers),
    )


async def _models(session: AsyncSession, token: UserToken) -> Sequence[AiModel]:
    query = select(AiModel).where(AiModel.tenant_id == token.tenant_id)
    if token.allowed_models is not None:
        query = query.where(col(AiModel.name).in_(token.allowed_models))
    result = await session.exec(query.order_by(col(AiModel.name)))
    return result.all()


async def _deployments(session: AsyncSession, model_ids: list[str]) -> Sequence[Deployment]:
    if not model_ids:
        return []
    result = await session.exec(
        select(Deployment)
        .where(col(Deployment.model_id).in_(model_ids), col(Deployment.enabled).is_(True))
        .order_by(col(Deployment.priority), col(Deployment.created_at), col(Deployment.id))
    )
    return result.all()


async def _providers(session: AsyncSession, provider_ids: list[str]) -> dict[str, Provider]:
    if not provider_ids:
        return {}
    result = await session.exec(select(Provider).where(col(Provider.id).in_(provider_ids)))
    return {p.id: p for p in result.all()}


async def _credentials(session: AsyncSession, provider_ids: list[str]) -> Sequence[Credential]:
    if not provider_ids:
        return []
    result = await session.exec(
        select(Credential)
        .where(col(Credential.provider_id).in_(provider_ids), Credential.status == "active")
        .order_by(col(Credential.created_at), col(Credential.id))
    )
    return result.all()
