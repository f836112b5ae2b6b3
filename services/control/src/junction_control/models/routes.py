"""AI-model endpoints: public names with pricing, and their deployments on providers."""

from __future__ import annotations

from sqlmodel import col

from junction_control.admin.access import requires
from junction_control.admin.errors import invalid_field
from junction_control.admin.pagination import keyset_page
from junction_control.admin.registry import Call, Router
from junction_control.admin.schemas import PageQuery
from junction_control.errors import NotFound
from junction_control.models import service, writes
from junction_control.models.models import AiModel, Deployment
from junction_control.models.schemas import (
    DeploymentIn,
    DeploymentOut,
    DeploymentPage,
    DeploymentPatch,
    ModelIn,
    ModelOut,
    ModelPage,
    ModelPatch,
)
from junction_control.providers.service import get_provider_by_id

router = Router("ai-models")
MODEL = "/tenants/{tenant_id}/ai-models/{model_id}"
DEPLOYMENT = MODEL + "/deployments/{deployment_id}"


async def _model(call: Call) -> AiModel:
    return await service.get_model_by_id(call.session, call.access.tenant_id, call.path("model_id"))


async def _deployment(call: Call) -> tuple[AiModel, Deployment]:
    model = await _model(call)
    deployment = await service.get_deployment_by_id(call.session, model, call.path("deployment_id"))
    return model, deployment


@router.add(
    "GET",
    "/tenants/{tenant_id}/ai-models",
    summary="The tenant's models",
    permission=requires("models", "read"),
    query=PageQuery,
    response=ModelPage,
)
async def list_models(call: Call) -> ModelPage:
    rows, next_cursor = await keyset_page(
        call.session,
        service.models_query(call.access.tenant_id),
        at=col(AiModel.created_at),
        row_id=col(AiModel.id),
        key=lambda m: (m.created_at, m.id),
        page=call.query(PageQuery),
    )
    return ModelPage(items=[ModelOut.of(m) for m in rows], next_cursor=next_cursor)


@router.add(
    "POST",
    "/tenants/{tenant_id}/ai-models",
    summary="Add a model with its pricing",
    permission=requires("models", "write"),
    body=ModelIn,
    response=ModelOut,
    status=201,
)
async def create_model(call: Call) -> ModelOut:
    data = call.body(ModelIn)
    model = await writes.create_model(
        call.session, call.access.current_tenant, data.name, data.pricing.value(), call.actor
    )
    return ModelOut.of(model)


@router.add(
    "GET", MODEL, summary="One model", permission=requires("models", "read"), response=ModelOut
)
async def get_model(call: Call) -> ModelOut:
    return ModelOut.of(await _model(call))


@router.add(
    "PATCH",
    MODEL,
    summary="Rename a model or replace its pricing (a pricing object is set whole)",
    permission=requires("models", "write"),
    body=ModelPatch,
    response=ModelOut,
)
async def update_model(call: Call) -> ModelOut:
    data = call.body(ModelPatch)
    model = await _model(call)
    await writes.update_model(
        call.session,
        model,
        call.actor,
        fields=sorted(data.model_fields_set),
        name=data.name,
        pricing=None if data.pricing is None else data.pricing.value(),
    )
    return ModelOut.of(model)


@router.add(
    "DELETE",
    MODEL,
    summary="Delete a model and its deployments (tokens that allowed it stop naming it)",
    permission=requires("models", "write"),
)
async def delete_model(call: Call) -> None:
    await writes.delete_model(call.session, await _model(call), call.actor)


@router.add(
    "GET",
    MODEL + "/deployments",
    summary="Where the model runs",
    permission=requires("models", "read"),
    query=PageQuery,
    response=DeploymentPage,
)
async def list_deployments(call: Call) -> DeploymentPage:
    model = await _model(call)
    rows, next_cursor = await keyset_page(
        call.session,
        service.deployments_query(model.id),
        at=col(Deployment.created_at),
        row_id=col(Deployment.id),
        key=lambda d: (d.created_at, d.id),
        page=call.query(PageQuery),
    )
    return DeploymentPage(items=[DeploymentOut.of(d) for d in rows], next_cursor=next_cursor)


@router.add(
    "POST",
    MODEL + "/deployments",
    summary="Deploy the model on one of the tenant's providers",
    permission=requires("models", "write"),
    body=DeploymentIn,
    response=DeploymentOut,
    status=201,
)
async def create_deployment(call: Call) -> DeploymentOut:
    data = call.body(DeploymentIn)
    model = await _model(call)
    try:
        provider = await get_provider_by_id(call.session, call.access.tenant_id, data.provider_id)
    except NotFound:
        await call.audit_reach("provider_id", data.provider_id)
        raise invalid_field("provider_id", "no such provider in this tenant") from None
    deployment = await writes.add_deployment(
        call.session,
        model,
        provider,
        data.upstream_model,
        call.actor,
        priority=data.priority,
        weight=data.weight,
        enabled=data.enabled,
    )
    return DeploymentOut.of(deployment)


@router.add(
    "PATCH",
    DEPLOYMENT,
    summary="Change a deployment's priority, weight or enabled flag",
    permission=requires("models", "write"),
    body=DeploymentPatch,
    response=DeploymentOut,
)
async def update_deployment(call: Call) -> DeploymentOut:
    data = call.body(DeploymentPatch)
    model, deployment = await _deployment(call)
    await writes.update_deployment(
        call.session,
        model,
        deployment,
        call.actor,
        fields=sorted(data.model_fields_set),
        priority=data.priority,
        weight=data.weight,
        enabled=data.enabled,
    )
    return DeploymentOut.of(deployment)


@router.add(
    "DELETE",
    DEPLOYMENT,
    summary="Remove a deployment",
    permission=requires("models", "write"),
)
async def delete_deployment(call: Call) -> None:
    model, deployment = await _deployment(call)
    await writes.delete_deployment(call.session, model, deployment, call.actor)
