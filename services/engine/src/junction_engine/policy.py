"""Checks on a route before anything is forwarded, and which models a key may call.

A key may call the public model names its tenant configured (narrowed by the
key's allowed list) and, for each deployment of those models, the direct name
`provider/upstream-model` (e.g. `openai-main/gpt-4o-mini`), which goes to that
deployment alone, without failover. A configured name always wins over a
direct name spelled the same.
"""

from __future__ import annotations

import time

from junction_contracts import ModelRoute, Route
from junction_engine.errors import Forbidden, NotFound, Unauthorized


def check_token(route: Route, *, now: float | None = None) -> None:
    """Refuse revoked and expired keys."""
    token = route.token
    if token.revoked:
        raise Unauthorized("this API key has been revoked", code="revoked_api_key")
    if token.expires_at is not None and (now or time.time()) >= token.expires_at:
        raise Unauthorized("this API key has expired", code="expired_api_key")


def _allowed(route: Route, name: str) -> bool:
    allowed = route.token.allowed_models
    return allowed is None or name in allowed


def visible_models(route: Route) -> list[ModelRoute]:
    """Every model this key may call: configured names, then direct `provider/model` names."""
    configured = [m for m in route.models if _allowed(route, m.name)]
    taken = {m.name for m in configured}
    direct: dict[str, ModelRoute] = {}
    for model in configured:
        for d in model.deployments:
            name = f"{d.provider.name}/{d.upstream_model}"
            if name not in taken and name not in direct:
                direct[name] = ModelRoute(
                    name=name,
                    deployments=(d,),
                    pricing=model.pricing,
                    owned_by=d.provider.name,
                    created=model.created,
                )
    return configured + list(direct.values())


def pick_model(route: Route, name: str) -> ModelRoute:
    """The model called `name`, or 403/404 with a clear message."""
    model = route.model(name)
    if model is not None:
        if not _allowed(route, name):
            raise Forbidden(f"this API key may not use the model '{name}'", param="model")
    elif "/" in name:
        model = next((m for m in visible_models(route) if m.name == name), None)
    if model is None:
        if route.token.allowed_models is not None and name not in route.token.allowed_models:
            raise Forbidden(f"this API key may not use the model '{name}'", param="model")
        raise NotFound(
            f"the model '{name}' does not exist or you do not have access to it", param="model"
        )
    if not model.deployments:
        raise NotFound(f"the model '{name}' has no deployment to serve it", param="model")
    return model
