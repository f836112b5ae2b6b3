"""AI models, their pricing and their deployments on providers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from junction_control.bounds import MAX_PRICE_PER_MTOK, check_amount
from junction_control.errors import Conflict, NotFound
from junction_control.models.models import AiModel, Deployment
from junction_control.naming import check_model_name, check_upstream_model
from junction_control.providers.models import Provider
from junction_control.providers.service import check_priority, check_weight
from junction_control.tenants.models import Tenant
from junction_control.tokens.models import UserToken

UNPRICED = (
    "model {name} has no price and is not marked free: the gateway refuses its calls "
    "until it is priced or marked free"
)


@dataclass(frozen=True, slots=True)
class ModelPricing:
    """USD per million tokens."""

    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0
    cached_input_per_mtok: float = 0.0
    free: bool = False

    @property
    def priced(self) -> bool:
        """Whether the engine will serve the model: it has a price or is free on purpose."""
        return self.free or self.input_per_mtok > 0 or self.output_per_mtok > 0

    def __post_init__(self) -> None:
        for what, value in (
            ("input price", self.input_per_mtok),
            ("output price", self.output_per_mtok),
            ("cached input price", self.cached_input_per_mtok),
        ):
            check_amount(value, what, MAX_PRICE_PER_MTOK)


async def find_model(session: AsyncSession, tenant: Tenant, name: str) -> AiModel | None:
    """The model called `name` in `tenant`, if any."""
    result = await session.exec(
        select(AiModel).where(AiModel.tenant_id == tenant.id, AiModel.name == name)
    )
    return result.first()


async def check_models_exist(session: AsyncSession, tenant: Tenant, names: Iterable[str]) -> None:
    """NotFound naming the first of `names` that is not a model of `tenant`."""
    wanted = set(names)
    if not wanted:
        return
    result = await session.exec(
        select(AiModel.name).where(AiModel.tenant_id == tenant.id, col(AiModel.name).in_(wanted))
    )
    missing = sorted(wanted - set(result.all()))
    if missing:
        raise NotFound(f"model {missing[0]!r} does not exist in tenant {tenant.name!r}")


async def model_ids_for(session: AsyncSession, tenant_id: str, names: Sequence[str]) -> list[str]:
    """The ids of the tenant's models called `names`, in that order; NotFound for a missing one.

    Tokens keep the ids, not the names: a renamed model stays allowed under
    its new name, and a new model given an old name is not allowed with it.
    """
    if not names:
        return []
    result = await session.exec(
        select(AiModel.name, AiModel.id).where(
            AiModel.tenant_id == tenant_id, col(AiModel.name).in_(set(names))
        )
    )
    found = dict(result.all())
    missing = [n for n in names if n not in found]
    if missing:
        raise NotFound(f"model {missing[0]!r} does not exist in this tenant")
    return [found[n] for n in dict.fromkeys(names)]


async def model_names_by_id(session: AsyncSession, tenant_id: str) -> dict[str, str]:
    """The current public name of each of the tenant's models, by id."""
    result = await session.exec(
        select(AiModel.id, AiModel.name).where(AiModel.tenant_id == tenant_id)
    )
    return dict(result.all())


async def create_model(
    session: AsyncSession, tenant: Tenant, name: str, pricing: ModelPricing | None = None
) -> AiModel:
    """Add a model (flushed, not committed); Conflict if the name is taken."""
    check_model_name(name)
    if await find_model(session, tenant, name) is not None:
        raise Conflict(f"model {name!r} already exists in tenant {tenant.name!r}")
    model = AiModel(tenant_id=tenant.id, name=name)
    set_pricing(model, pricing or ModelPricing())
    session.add(model)
    await session.flush()
    return model


def set_pricing(model: AiModel, pricing: ModelPricing) -> None:
    """Copy `pricing` onto `model`."""
    model.input_price_per_mtok = pricing.input_per_mtok
    model.output_price_per_mtok = pricing.output_per_mtok
    model.cached_input_price_per_mtok = pricing.cached_input_per_mtok
    model.free = pricing.free


def pricing_of(model: AiModel) -> ModelPricing:
    """The pricing currently stored on `model`."""
    return ModelPricing(
        input_per_mtok=model.input_price_per_mtok,
        output_per_mtok=model.output_price_per_mtok,
        cached_input_per_mtok=model.cached_input_price_per_mtok,
        free=model.free,
    )


async def find_deployment(
    session: AsyncSession, model: AiModel, provider: Provider, upstream_model: str
) -> Deployment | None:
    """The deployment of `model` on `provider` as `upstream_model`, if any."""
    result = await session.exec(
        select(Deployment).where(
            Deployment.model_id == model.id,
            Deployment.provider_id == provider.id,
            Deployment.upstream_model == upstream_model,
        )
    )
    return result.first()


async def add_deployment(
    session: AsyncSession,
    model: AiModel,
    provider: Provider,
    upstream_model: str,
    *,
    priority: int = 0,
    weight: int = 1,
    enabled: bool = True,
) -> Deployment:
    """Deploy `model` on `provider` (flushed, not committed)."""
    if provider.tenant_id != model.tenant_id:
        raise NotFound(f"provider {provider.name!r} does not exist in the model's tenant")
    check_upstream_model(upstream_model)
    check_priority(priority)
    check_weight(weight)
    if await find_deployment(session, model, provider, upstream_model) is not None:
        raise Conflict(
            f"model {model.name!r} is already deployed on {provider.name}:{upstream_model}"
        )
    deployment = Deployment(
        model_id=model.id,
        provider_id=provider.id,
        upstream_model=upstream_model,
        priority=priority,
        weight=weight,
        enabled=enabled,
    )
    session.add(deployment)
    await session.flush()
    return deployment


def models_query(tenant_id: str) -> SelectOfScalar[AiModel]:
    """The tenant's models."""
    return select(AiModel).where(AiModel.tenant_id == tenant_id)


async def get_model_by_id(session: AsyncSession, tenant_id: str, model_id: str) -> AiModel:
    """The model `model_id` of the tenant; NotFound otherwise (also for another tenant's)."""
    result = await session.exec(models_query(tenant_id).where(AiModel.id == model_id))
    model = result.first()
    if model is None:
        raise NotFound("model not found")
    return model


async def rename_model(session: AsyncSession, model: AiModel, name: str) -> None:
    """Give `model` a new public name; Conflict if the tenant has one of that name."""
    check_model_name(name)
    if name == model.name:
        return
    taken = await session.exec(models_query(model.tenant_id).where(AiModel.name == name))
    if taken.first() is not None:
        raise Conflict(f"model {name!r} already exists")
    model.name = name


async def delete_model(session: AsyncSession, model: AiModel) -> int:
    """Delete `model` and its deployments (flushed); how many tokens' lists named it.

    The model's id leaves every token list of the tenant that held it. A list
    that held nothing else stays empty (such a token may call no model): a
    delete never widens what a token may do.
    """
    rows = await session.exec(
        select(UserToken).where(
            UserToken.tenant_id == model.tenant_id, col(UserToken.allowed_model_ids).is_not(None)
        )
    )
    held = 0
    for token in rows.all():
        ids = token.allowed_model_ids or []
        if model.id in ids:
            token.allowed_model_ids = [i for i in ids if i != model.id]
            session.add(token)
            held += 1
    await session.delete(model)
    await session.flush()
    return held


def deployments_query(model_id: str) -> SelectOfScalar[Deployment]:
    """The model's deployments."""
    return select(Deployment).where(Deployment.model_id == model_id)


async def get_deployment_by_id(
    session: AsyncSession, model: AiModel, deployment_id: str
) -> Deployment:
    """The deployment `deployment_id` of `model`; NotFound otherwise."""
    result = await session.exec(deployments_query(model.id).where(Deployment.id == deployment_id))
    deployment = result.first()
    if deployment is None:
        raise NotFound("deployment not found")
    return deployment
