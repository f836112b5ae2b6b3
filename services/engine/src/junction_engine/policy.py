"""Checks on a route before anything is forwarded."""

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


def visible_models(route: Route) -> list[ModelRoute]:
    """Models this key may call, in the tenant's order."""
    allowed = route.token.allowed_models
    return [m for m in route.models if allowed is None or m.name in allowed]


def pick_model(route: Route, name: str) -> ModelRoute:
    """The model called `name`, or 403/404 with a clear message."""
    allowed = route.token.allowed_models
    if allowed is not None and name not in allowed:
        raise Forbidden(f"this API key may not use the model '{name}'", param="model")
    model = route.model(name)
    if model is None:
        raise NotFound(f"the model '{name}' does not exist or you do not have access to it",
                       param="model")
    if not model.deployments:
        raise NotFound(f"the model '{name}' has no deployment to serve it", param="model")
    return model
