"""Request and response bodies of the ai-model, deployment and pricing endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from junction_control.admin.schemas import MAX_INT, Input, Page, PositiveInt, Price, printable
from junction_control.errors import InvalidInput
from junction_control.models.models import AiModel, Deployment
from junction_control.models.service import UNPRICED, ModelPricing, pricing_of
from junction_control.naming import check_model_name, check_upstream_model


def _model_name(value: str) -> str:
    try:
        return check_model_name(value)
    except InvalidInput:
        raise ValueError("must be 1-200 characters of letters, digits or ._:/@+-") from None


def _upstream(value: str) -> str:
    try:
        return check_upstream_model(value)
    except InvalidInput:
        raise ValueError("must be 1-200 printable characters without spaces") from None


PublicName = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_model_name)]
Upstream = Annotated[str, Field(min_length=1, max_length=200), printable, AfterValidator(_upstream)]
Priority = Annotated[int, Field(ge=-MAX_INT, le=MAX_INT)]


class Pricing(Input):
    """USD per million tokens."""

    input_per_mtok: Price = 0.0
    output_per_mtok: Price = 0.0
    cached_input_per_mtok: Price = 0.0
    #: served at no cost on purpose; without a price and not free, calls are refused
    free: bool = False

    def value(self) -> ModelPricing:
        return ModelPricing(
            self.input_per_mtok, self.output_per_mtok, self.cached_input_per_mtok, self.free
        )


class ModelIn(Input):
    name: PublicName
    pricing: Pricing = Field(default_factory=Pricing)


class ModelPatch(Input):
    name: PublicName | None = None
    pricing: Pricing | None = None


class ModelOut(BaseModel):
    id: str
    name: str
    pricing: Pricing
    created_at: datetime
    #: e.g. a model without a price that is not free (its calls are refused)
    warnings: list[str] = []

    @classmethod
    def of(cls, model: AiModel) -> ModelOut:
        pricing = pricing_of(model)
        return cls(
            warnings=[] if pricing.priced else [UNPRICED.format(name=model.name)],
            id=model.id,
            name=model.name,
            pricing=Pricing(
                input_per_mtok=model.input_price_per_mtok,
                output_per_mtok=model.output_price_per_mtok,
                cached_input_per_mtok=model.cached_input_price_per_mtok,
                free=model.free,
            ),
            created_at=model.created_at,
        )


class DeploymentIn(Input):
    provider_id: Annotated[str, Field(min_length=1, max_length=64), printable]
    upstream_model: Upstream
    priority: Priority = 0
    weight: PositiveInt = 1
    enabled: bool = True


class DeploymentPatch(Input):
    priority: Priority | None = None
    weight: PositiveInt | None = None
    enabled: bool | None = None


class DeploymentOut(BaseModel):
    id: str
    model_id: str
    provider_id: str
    upstream_model: str
    priority: int
    weight: int
    enabled: bool
    created_at: datetime

    @classmethod
    def of(cls, deployment: Deployment) -> DeploymentOut:
        return cls(
            id=deployment.id,
            model_id=deployment.model_id,
            provider_id=deployment.provider_id,
            upstream_model=deployment.upstream_model,
            priority=deployment.priority,
            weight=deployment.weight,
            enabled=deployment.enabled,
            created_at=deployment.created_at,
        )


ModelPage = Page[ModelOut]
DeploymentPage = Page[DeploymentOut]
