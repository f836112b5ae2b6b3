"""Building the route of one token: what the engine needs to serve its calls.

The route lists the models the token may use, each with its enabled
deployments, each with its provider and active credentials. Provider keys are
decrypted from the database and re-sealed for the engine (see
`junction_contracts.sealing` and `sealed_keys`), so no plain key leaves this
module.

The token carries its budgets: the key's and the tenant's, each with its
current period (`budgets.spend`) and what was spent in it, read from the
budget's state row in the same query; only a budget whose period began
since the budget job last ran costs a second query (a sum over the young
period's calls).

One Core query, no ORM objects: the token joined to its tenant's models,
their enabled deployments, those deployments' providers and the providers'
active credentials, one row per (deployment, credential). A resolve is what an
engine does on every cache miss, so it must stay cheap when many engines start
at once: a round trip costs more than the few rows it would save (a tenant
with 10 models, 2 deployments each and 3 keys per provider reads 60 rows).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Row, Table, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.selectable import NamedFromClause

from junction_contracts.periods import BudgetWindow
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
from junction_control.budgets.models import BudgetState
from junction_control.budgets.spend import money, spent_in, summed_since, window_of
from junction_control.credits.models import CreditAccount
from junction_control.crypto import EncryptedSecret
from junction_control.errors import CryptoError
from junction_control.internal.sealed_keys import SealedKeys
from junction_control.models.models import AiModel, Deployment
from junction_control.providers.models import Credential, Provider
from junction_control.tenants.models import TenantBudget
from junction_control.tokens.models import UserToken

log = logging.getLogger(__name__)

# a row of _ROUTE_ROWS, read by column name
RouteRow = Row[*tuple[Any, ...]]

_tokens: Table = UserToken.__table__  # type: ignore[attr-defined]
_models: Table = AiModel.__table__  # type: ignore[attr-defined]
_deployments: Table = Deployment.__table__  # type: ignore[attr-defined]
_providers: Table = Provider.__table__  # type: ignore[attr-defined]
_credentials: Table = Credential.__table__  # type: ignore[attr-defined]

_accounts: Table = CreditAccount.__table__  # type: ignore[attr-defined]
_tenant_budgets: Table = TenantBudget.__table__  # type: ignore[attr-defined]
_states: Table = BudgetState.__table__  # type: ignore[attr-defined]
# a budget's state row: the key's, and the tenant's
_key_state: NamedFromClause = _states.alias("key_state")
_tenant_state: NamedFromClause = _states.alias("tenant_state")

_t, _m, _d, _p, _c = (t.c for t in (_tokens, _models, _deployments, _providers, _credentials))
_a = _accounts.c
_tb, _ks, _ts = _tenant_budgets.c, _key_state.c, _tenant_state.c

# the token, and one row per (model, enabled deployment, active credential) of its
# tenant; a model without deployments, a deployment without credentials still
# has its row, with NULLs for what it lacks
_ROUTE_ROWS = (
    select(
        _t.id,
        _t.tenant_id,
        _t.name,
        _t.prefix,
        _t.revoked_at,
        _t.expires_at,
        _t.allowed_model_ids,
        _t.rpm,
        _t.tpm,
        _t.budget_usd,
        _t.spent_usd,
        _t.budget_period,
        _t.budget_timezone,
        _ks.period_start.label("key_period_start"),
        _ks.base_usd.label("key_base_usd"),
        _tb.limit_usd.label("tenant_budget_usd"),
        _tb.period.label("tenant_budget_period"),
        _tb.timezone.label("tenant_budget_timezone"),
        _ts.period_start.label("tenant_period_start"),
        _ts.base_usd.label("tenant_base_usd"),
        _a.billing,
        _a.granted_usd,
        _a.charged_usd,
        _a.credit_limit_usd,
        _m.id.label("model_id"),
        _m.name.label("model_name"),
        _m.input_price_per_mtok,
        _m.output_price_per_mtok,
        _m.cached_input_price_per_mtok,
        _m.free.label("model_free"),
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
        _p.headers_ciphertext,
        _p.headers_nonce,
        _p.headers_wrapped_key,
        _p.headers_key_version,
        _c.id.label("credential_id"),
        _c.weight.label("credential_weight"),
        _c.key_ciphertext,
        _c.key_nonce,
        _c.wrapped_data_key,
        _c.key_version,
    )
    .select_from(
        _tokens.outerjoin(_accounts, _a.tenant_id == _t.tenant_id)
        .outerjoin(_key_state, and_(_ks.kind == "key", _ks.budget_id == _t.id))
        .outerjoin(_tenant_budgets, _tb.tenant_id == _t.tenant_id)
        .outerjoin(_tenant_state, and_(_ts.kind == "tenant", _ts.budget_id == _t.tenant_id))
        .outerjoin(_models, _m.tenant_id == _t.tenant_id)
        .outerjoin(_deployments, and_(_d.model_id == _m.id, _d.enabled.is_(True)))
        .outerjoin(_providers, _p.id == _d.provider_id)
        .outerjoin(_credentials, and_(_c.provider_id == _p.id, _c.status == "active"))
    )
    .where(_t.token_hash == bindparam("token_hash"))
    .order_by(_m.name, _d.priority, _d.created_at, _d.id, _c.created_at, _c.id)
)


@dataclass(slots=True)
class _Deployment:
    """A deployment while its rows are read: one row per credential."""

    row: RouteRow
    provider: ProviderRoute
    credentials: list[CredentialRoute] = field(default_factory=list)

    def route(self) -> DeploymentRoute:
        r = self.row
        return DeploymentRoute(
            id=r.deployment_id,
            provider=self.provider,
            upstream_model=r.upstream_model,
            priority=r.priority,
            weight=r.weight,
            credentials=tuple(self.credentials),
        )


async def resolve_route(
    conn: AsyncConnection,
    token_hash: str,
    *,
    sealed_keys: SealedKeys,
    on_undecryptable: Callable[[str], None] = lambda _id: None,
    now: float | None = None,
) -> Route | None:
    """The route of the token whose SHA-256 is `token_hash`; None if there is none.

    Revoked and expired tokens resolve too: the route says so, and the engine
    refuses their calls (and caches that answer). `on_undecryptable` hears the
    id of each credential left out because its key does not open. `now` (unix
    seconds, default the clock) picks the budgets' current periods.
    """
    issued_at = time.time() if now is None else now
    rows = (await conn.execute(_ROUTE_ROWS, {"token_hash": token_hash})).all()
    if not rows:
        return None
    token = rows[0]
    # by model id: a renamed model stays allowed, a new model under an old name does not
    allowed = None if token.allowed_model_ids is None else set(token.allowed_model_ids)
    models: dict[str, tuple[RouteRow, dict[str, _Deployment]]] = {}
    providers: dict[str, ProviderRoute | None] = {}
    # each credential sealed (or found unreadable) once per resolve, however many
    # deployments share its provider
    sealed: dict[str, CredentialRoute | None] = {}
    for r in rows:
        if r.model_id is None or (allowed is not None and r.model_id not in allowed):
            continue
        _model, deployments = models.setdefault(r.model_id, (r, {}))
        if r.deployment_id is None:
            continue
        deployment = deployments.get(r.deployment_id)
        if deployment is None:
            if r.provider_id not in providers:
                providers[r.provider_id] = _provider_route(r, sealed_keys)
            provider = providers[r.provider_id]
            if provider is None:
                continue  # its headers do not open: left out, as a key that does not open
            deployment = deployments[r.deployment_id] = _Deployment(r, provider)
        if r.credential_id is None:
            continue
        if r.credential_id not in sealed:
            sealed[r.credential_id] = _sealed(r, sealed_keys, on_undecryptable)
        credential = sealed[r.credential_id]
        if credential is not None:
            deployment.credentials.append(credential)
    return Route(
        token=await _token_route(
            conn,
            token,
            issued_at,
            # the engine checks names: the allowed models under their current names
            None if allowed is None else tuple(m.model_name for m, _ in models.values()),
        ),
        models=tuple(
            _model_route(m, [d.route() for d in deployments.values()])
            for m, deployments in models.values()
        ),
        issued_at=issued_at,
    )


def _sealed(
    r: RouteRow, sealed_keys: SealedKeys, on_undecryptable: Callable[[str], None]
) -> CredentialRoute | None:
    """The row's credential with its key sealed; None (reported) when the key does not open."""
    secret = EncryptedSecret(r.key_ciphertext, r.key_nonce, r.wrapped_data_key, r.key_version)
    try:
        key = sealed_keys.sealed(r.credential_id, secret)
    except CryptoError:
        # one unreadable key must not take every model of the token down
        log.warning("credential %s left out of a route: its key does not decrypt", r.credential_id)
        on_undecryptable(r.credential_id)
        return None
    return CredentialRoute(id=r.credential_id, sealed_key=key, weight=r.credential_weight)


async def _token_route(
    conn: AsyncConnection, r: RouteRow, now: float, allowed_models: tuple[str, ...] | None
) -> TokenRoute:
    key_window = None
    if r.budget_usd is not None:
        key_window = window_of(r.budget_period, r.budget_timezone, now)
    spent = money(r.spent_usd)
    if key_window is not None:
        spent = await _period_spend(
            conn, r, key_window, r.spent_usd, r.key_period_start, r.key_base_usd, r.id
        )
    tenant_window = None
    tenant_spent = 0.0
    if r.tenant_budget_usd is not None:
        charged = r.charged_usd or 0.0
        tenant_window = window_of(r.tenant_budget_period, r.tenant_budget_timezone, now)
        tenant_spent = money(charged)
        if tenant_window is not None:
            tenant_spent = await _period_spend(
                conn, r, tenant_window, charged, r.tenant_period_start, r.tenant_base_usd, None
            )
    return TokenRoute(
        id=r.id,
        tenant_id=r.tenant_id,
        name=r.name,
        prefix=r.prefix,
        revoked=r.revoked_at is not None,
        expires_at=None if r.expires_at is None else r.expires_at.timestamp(),
        allowed_models=allowed_models,
        rpm=r.rpm,
        tpm=r.tpm,
        budget_usd=r.budget_usd,
        spent_usd=spent,
        billing="prepaid" if r.billing == "prepaid" else "postpaid",  # no account: postpaid
        credit_granted_usd=r.granted_usd or 0.0,
        credit_charged_usd=r.charged_usd or 0.0,
        credit_limit_usd=r.credit_limit_usd,
        budget_window=key_window,
        tenant_budget_usd=r.tenant_budget_usd,
        tenant_spent_usd=tenant_spent,
        tenant_budget_window=tenant_window,
    )


async def _period_spend(
    conn: AsyncConnection,
    r: RouteRow,
    window: BudgetWindow,
    lifetime: float,
    state_start: Any,
    base: float | None,
    token_id: str | None,
) -> float:
    """A budget's spend in `window`: from its state row, else summed from the period's calls."""
    spent = spent_in(window, lifetime, state_start, base)
    if spent is None:
        spent = await summed_since(conn, r.tenant_id, window.start, token_id)
    return spent


def _model_route(r: RouteRow, deployments: Sequence[DeploymentRoute]) -> ModelRoute:
    return ModelRoute(
        name=r.model_name,
        deployments=tuple(deployments),
        pricing=Pricing(
            input_per_mtok=r.input_price_per_mtok,
            output_per_mtok=r.output_price_per_mtok,
            cached_input_per_mtok=r.cached_input_price_per_mtok,
            free=bool(r.model_free),
        ),
        created=int(r.model_created_at.timestamp()),
    )


def _provider_route(r: RouteRow, sealed_keys: SealedKeys) -> ProviderRoute | None:
    """The row's provider, its extra headers sealed; None (logged) when they do not open."""
    secret = None
    if r.headers_ciphertext is not None:
        secret = EncryptedSecret(
            r.headers_ciphertext, r.headers_nonce, r.headers_wrapped_key, r.headers_key_version
        )
    try:
        headers = sealed_keys.headers(r.provider_id, secret, r.extra_headers)
    except CryptoError:
        log.warning("provider %s left out of a route: its headers do not decrypt", r.provider_id)
        return None
    return ProviderRoute(
        id=r.provider_id,
        name=r.provider_name,
        type=cast(ProviderType, r.provider_type),
        base_url=r.base_url,
        sealed_headers=headers,
    )
