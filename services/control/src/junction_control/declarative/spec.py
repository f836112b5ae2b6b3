"""The declarative file: its shape, checked before anything touches the database.

Every mistake is an InvalidInput naming its place in the file, e.g.
``tenants[0].providers[1].type: must be one of ...``. Numbers are held to
what both databases store (`bounds`), so a file that applies on SQLite
applies on PostgreSQL too. Values written
``env:VAR`` are read from the environment given to the parser; a missing
variable is an error, never an empty value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import yaml

from junction_control.bounds import INT32_MAX, MAX_PRICE_PER_MTOK, MAX_USD
from junction_control.errors import InvalidInput
from junction_control.models.service import ModelPricing
from junction_control.naming import check_model_name, check_slug, check_upstream_model
from junction_control.providers.headers import check_headers
from junction_control.providers.service import (
    check_key,
    check_provider_type,
    check_status,
    check_url_shape,
    check_weight,
)
from junction_control.tenants.budgets import BudgetSpec
from junction_control.tokens.service import TokenLimits, check_raw_token
from junction_control.users.passwords import check_password
from junction_control.users.service import check_email, check_role

ENV_PREFIX = "env:"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class KeySpec:
    name: str
    value: str
    weight: int = 1
    status: str = "active"


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    name: str
    type: str
    base_url: str
    headers: Mapping[str, str]
    keys: tuple[KeySpec, ...]


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    provider: str
    model: str
    priority: int = 0
    weight: int = 1
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    pricing: ModelPricing
    deployments: tuple[DeploymentSpec, ...]


@dataclass(frozen=True, slots=True)
class TokenSpec:
    name: str
    value: str | None  # None: generated on creation, printed once
    limits: TokenLimits


@dataclass(frozen=True, slots=True)
class UserSpec:
    email: str
    role: str
    password: str | None = field(default=None, repr=False)  # None: the user must exist
    name: str = ""


@dataclass(frozen=True, slots=True)
class TenantSpec:
    name: str
    providers: tuple[ProviderSpec, ...]
    models: tuple[ModelSpec, ...]
    tokens: tuple[TokenSpec, ...]
    users: tuple[UserSpec, ...] = ()
    budget: BudgetSpec | None = None  # None: the tenant's budget is left as it is


@dataclass(frozen=True, slots=True)
class Spec:
    tenants: tuple[TenantSpec, ...]


def load_spec(path: Path, environ: Mapping[str, str]) -> Spec:
    """Read and check the YAML file at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{path} is not valid YAML: {exc}") from None
    return parse_spec(data, environ)


def parse_spec(data: Any, environ: Mapping[str, str]) -> Spec:
    """Check already-loaded YAML data and resolve its ``env:`` values."""
    root = _Node(data, "", environ)
    root.allow("tenants")
    return Spec(tenants=tuple(_tenant(t) for t in root.items("tenants")))


def _tenant(node: _Node) -> TenantSpec:
    node.allow("name", "providers", "models", "tokens", "users", "budget")
    return TenantSpec(
        name=node.checked("name", lambda v: check_slug(v, what="tenant")),
        providers=tuple(_provider(p) for p in node.items("providers")),
        models=tuple(_model(m) for m in node.items("models")),
        tokens=tuple(_token(t) for t in node.items("tokens")),
        users=tuple(_user(u) for u in node.items("users")),
        budget=_budget(node.child("budget", default=None)),
    )


def _budget(node: _Node) -> BudgetSpec | None:
    if node.data is None:
        return None
    node.allow("limit_usd", "period", "timezone")
    limit = node.optional_number("limit_usd", MAX_USD)
    if limit is None:
        raise node.error("is required", "limit_usd")
    return node.wrap(
        lambda: BudgetSpec(
            limit_usd=limit,
            period=node.text("period", default="lifetime"),
            timezone=node.text("timezone", default="UTC"),
        )
    )


def _user(node: _Node) -> UserSpec:
    node.allow("email", "role", "password", "name")
    return UserSpec(
        email=node.checked("email", check_email),
        role=node.checked("role", check_role),
        password=(
            node.secret("password", check_password) if "password" in node.mapping() else None
        ),
        name=node.text("name") if "name" in node.mapping() else "",
    )


def _provider(node: _Node) -> ProviderSpec:
    node.allow("name", "type", "base_url", "headers", "keys")
    headers = node.child("headers", default={})
    if not isinstance(headers.data, dict):
        raise headers.error("must be a mapping of header names to values")
    return ProviderSpec(
        name=node.checked("name", lambda v: check_slug(v, what="provider")),
        type=node.checked("type", check_provider_type),
        # where it may point is checked when applied, against the settings' allow-list
        base_url=node.secret("base_url", check_url_shape),
        headers=headers.wrap(
            lambda: check_headers({str(k): headers.secret(str(k)) for k in headers.data})
        ),
        keys=tuple(_key(k) for k in node.items("keys")),
    )


def _key(node: _Node) -> KeySpec:
    node.allow("name", "value", "weight", "status")
    return KeySpec(
        name=node.checked("name", lambda v: check_slug(v, what="key"), default="default"),
        value=node.secret("value", check_key),
        weight=node.wrap(lambda: check_weight(node.whole("weight", default=1, low=1))),
        status=node.checked("status", check_status, default="active"),
    )


def _model(node: _Node) -> ModelSpec:
    node.allow("name", "pricing", "deployments")
    pricing = node.child("pricing", default={})
    pricing.allow("input_per_mtok", "output_per_mtok", "cached_input_per_mtok", "free")
    return ModelSpec(
        name=node.checked("name", check_model_name),
        pricing=pricing.wrap(
            lambda: ModelPricing(
                input_per_mtok=pricing.number("input_per_mtok", MAX_PRICE_PER_MTOK),
                output_per_mtok=pricing.number("output_per_mtok", MAX_PRICE_PER_MTOK),
                cached_input_per_mtok=pricing.number("cached_input_per_mtok", MAX_PRICE_PER_MTOK),
                free=pricing.flag("free", default=False),
            )
        ),
        deployments=tuple(_deployment(d) for d in node.items("deployments")),
    )


def _deployment(node: _Node) -> DeploymentSpec:
    node.allow("provider", "model", "priority", "weight", "enabled")
    return DeploymentSpec(
        provider=node.text("provider"),
        model=node.checked("model", check_upstream_model),
        priority=node.whole("priority", default=0, low=-INT32_MAX),
        weight=node.whole("weight", default=1, low=1),
        enabled=node.flag("enabled", default=True),
    )


def _token(node: _Node) -> TokenSpec:
    node.allow(
        "name",
        "value",
        "models",
        "rpm",
        "tpm",
        "budget_usd",
        "budget_period",
        "budget_timezone",
        "expires_at",
    )
    models = node.child("models", default=None)
    if models.data is not None and (
        not isinstance(models.data, list) or not all(isinstance(m, str) for m in models.data)
    ):
        raise models.error("must be a list of model names")
    return TokenSpec(
        name=node.checked("name", lambda v: check_slug(v, what="token")),
        value=(node.secret("value", check_raw_token) if "value" in node.mapping() else None),
        limits=node.wrap(
            lambda: TokenLimits(
                allowed_models=None if models.data is None else tuple(models.data),
                rpm=node.optional_whole("rpm", low=1),
                tpm=node.optional_whole("tpm", low=1),
                budget_usd=node.optional_number("budget_usd", MAX_USD),
                expires_at=node.optional_datetime("expires_at"),
                budget_period=node.text("budget_period", default="lifetime"),
                budget_timezone=node.text("budget_timezone", default="UTC"),
            )
        ),
    )


class _Node:
    """A value in the loaded YAML, with its path for error messages."""

    def __init__(self, data: Any, path: str, environ: Mapping[str, str]) -> None:
        self.data = data
        self.path = path
        self.environ = environ

    def error(self, message: str, key: str | None = None) -> InvalidInput:
        where = self._at(key) if key is not None else self.path
        return InvalidInput(f"{where or 'file'}: {message}")

    def wrap(self, build: Callable[[], _T]) -> _T:
        """Run `build`, prefixing this node's path to any InvalidInput it raises."""
        try:
            return build()
        except InvalidInput as exc:
            if self.path and str(exc).startswith(self.path + "."):
                raise  # a field of this node, already named by its path
            raise self.error(str(exc)) from None

    def mapping(self) -> dict[str, Any]:
        if not isinstance(self.data, dict):
            raise self.error("must be a mapping")
        return self.data

    def allow(self, *keys: str) -> None:
        unknown = sorted(str(k) for k in self.mapping() if k not in keys)
        if unknown:
            raise self.error(f"unknown field {unknown[0]!r} (expected one of {', '.join(keys)})")

    def child(self, key: str, *, default: Any) -> _Node:
        return _Node(self.mapping().get(key, default), self._at(key), self.environ)

    def items(self, key: str) -> list[_Node]:
        value = self.mapping().get(key) or []
        if not isinstance(value, list):
            raise self.error("must be a list", key)
        return [_Node(v, f"{self._at(key)}[{i}]", self.environ) for i, v in enumerate(value)]

    def text(self, key: str, *, default: str | None = None) -> str:
        value = self.mapping().get(key, default)
        if value is None:
            raise self.error("is required", key)
        if not isinstance(value, str) or not value:
            raise self.error("must be a non-empty string", key)
        return value

    def checked(self, key: str, check: Callable[[str], str], *, default: str | None = None) -> str:
        """A string field passed through a service-layer `check`, errors pointing here."""
        value = self.text(key, default=default)
        try:
            return check(value)
        except InvalidInput as exc:
            raise self.error(str(exc), key) from None

    def secret(self, key: str, check: Callable[[str], str] | None = None) -> str:
        """A string that may be written ``env:VAR``, optionally passed through `check`."""
        value = self.text(key)
        if value.startswith(ENV_PREFIX):
            var = value[len(ENV_PREFIX) :]
            value = self.environ.get(var, "")
            if not value:
                raise self.error(f"environment variable {var} is not set", key)
        if check is None:
            return value
        try:
            return check(value)
        except InvalidInput as exc:
            raise self.error(str(exc), key) from None

    def whole(self, key: str, *, default: int, low: int, high: int = INT32_MAX) -> int:
        value = self.optional_whole(key, low=low, high=high)
        return default if value is None else value

    def optional_whole(self, key: str, *, low: int, high: int = INT32_MAX) -> int | None:
        """An integer from `low` to `high` (an INTEGER column's range by default)."""
        value = self.mapping().get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.error(f"must be an integer from {low} to {high}, got {value!r}", key)
        return value

    def number(self, key: str, high: float) -> float:
        value = self.optional_number(key, high)
        return 0.0 if value is None else value

    def optional_number(self, key: str, high: float) -> float | None:
        """A finite number from 0 to `high`."""
        value = self.mapping().get(key)
        if value is None:
            return None
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        if number is None or not math.isfinite(number) or not 0 <= number <= high:
            raise self.error(f"must be a number from 0 to {high:.0f}, got {value!r}", key)
        return float(number)

    def flag(self, key: str, *, default: bool) -> bool:
        value = self.mapping().get(key, default)
        if not isinstance(value, bool):
            raise self.error("must be true or false", key)
        return value

    def optional_datetime(self, key: str) -> datetime | None:
        value = self.mapping().get(key)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise self.error("must be an ISO 8601 date or time", key) from None
        if isinstance(value, date) and not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day)
        if not isinstance(value, datetime):
            raise self.error("must be an ISO 8601 date or time", key)
        # a time without a zone in the file means UTC
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def _at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key
