"""Model and deployment writes, with their side effects, for the admin API, CLI and ``apply -f``.

Each one makes the change (`service`), appends its audit row and notes the
tenant's routes as changed, in the caller's unit of work: whoever commits
the session commits them together and announces the routes after it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from junction_control.audit.actor import Actor
from junction_control.audit.service import record_by
from junction_control.models import service
from junction_control.models.models import AiModel, Deployment
from junction_control.providers.models import Provider
from junction_control.providers.service import check_priority, check_weight
from junction_control.route_changes import note_tenant_changed
from junction_control.tenants.models import Tenant


async def create_model(
    session: AsyncSession,
    tenant: Tenant,
    name: str,
    pricing: service.ModelPricing | None,
    actor: Actor,
) -> AiModel:
    """Add a model, audited and announced; Conflict if the name is taken."""
    model = await service.create_model(session, tenant, name, pricing)
    await _audit(session, actor, model.tenant_id, "model", model.id, "create", name=name)
    return model


async def update_model(
    session: AsyncSession,
    model: AiModel,
    actor: Actor,
    *,
    fields: Sequence[str],
    name: str | None = None,
    pricing: service.ModelPricing | None = None,
) -> None:
    """Rename `model` and/or replace its pricing, audited and announced.

    A renamed model keeps its id, so the tokens that allow it keep allowing
    it under the new name, and its old name is free for a new model that
    those tokens do not allow.
    """
    before = model.name
    if name is not None:
        await service.rename_model(session, model, name)
    if pricing is not None:
        service.set_pricing(model, pricing)
    session.add(model)
    await session.flush()
    renamed = {"previous_name": before, "name": model.name} if model.name != before else {}
    await _audit(
        session,
        actor,
        model.tenant_id,
        "model",
        model.id,
        "update",
        fields=sorted(fields),
        **renamed,
    )


async def delete_model(session: AsyncSession, model: AiModel, actor: Actor) -> None:
    """Delete a model and its deployments; tokens that allowed it stop naming it. Audited."""
    model_id, tenant_id, name = model.id, model.tenant_id, model.name
    narrowed = await service.delete_model(session, model)
    await _audit(
        session, actor, tenant_id, "model", model_id, "delete", name=name, tokens_narrowed=narrowed
    )


async def add_deployment(
    session: AsyncSession,
    model: AiModel,
    provider: Provider,
    upstream_model: str,
    actor: Actor,
    *,
    priority: int = 0,
    weight: int = 1,
    enabled: bool = True,
) -> Deployment:
    """Deploy `model` on `provider`, audited and announced."""
    deployment = await service.add_deployment(
        session, model, provider, upstream_model, priority=priority, weight=weight, enabled=enabled
    )
    await _audit(
        session,
        actor,
        model.tenant_id,
        "deployment",
        deployment.id,
        "create",
        model_id=model.id,
        provider_id=provider.id,
        upstream_model=upstream_model,
    )
    return deployment


async def update_deployment(
    session: AsyncSession,
    model: AiModel,
    deployment: Deployment,
    actor: Actor,
    *,
    fields: Sequence[str],
    priority: int | None = None,
    weight: int | None = None,
    enabled: bool | None = None,
) -> None:
    """Change a deployment's priority, weight or enabled flag, audited and announced."""
    if priority is not None:
        deployment.priority = check_priority(priority)
    if weight is not None:
        deployment.weight = check_weight(weight)
    if enabled is not None:
        deployment.enabled = enabled
    session.add(deployment)
    await session.flush()
    await _audit(
        session,
        actor,
        model.tenant_id,
        "deployment",
        deployment.id,
        "update",
        fields=sorted(fields),
    )


async def delete_deployment(
    session: AsyncSession, model: AiModel, deployment: Deployment, actor: Actor
) -> None:
    """Remove a deployment, audited and announced."""
    await _audit(session, actor, model.tenant_id, "deployment", deployment.id, "delete")
    await session.delete(deployment)
    await session.flush()


async def _audit(
    session: AsyncSession,
    actor: Actor,
    tenant_id: str,
    object_type: str,
    object_id: str,
    verb: str,
    **details: object,
) -> None:
    note_tenant_changed(session, tenant_id)
    await record_by(
        session,
        actor,
        tenant_id=tenant_id,
        action=f"{object_type}.{verb}",
        object_type=object_type,
        object_id=object_id,
        **details,
    )
