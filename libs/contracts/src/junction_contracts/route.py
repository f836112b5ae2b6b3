"""Route schema: what the control plane tells the engine about one client key.

The engine asks `POST /internal/v1/route/resolve` with `{"token_hash": ...}` and
caches the answer. Provider keys inside are sealed (see `sealing.py`), so a
route can sit in Redis or a log line without exposing a key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast

from junction_contracts.errors import ContractError
from junction_contracts.periods import BudgetWindow, check_period

CONTRACT_VERSION = 1

ProviderType = Literal["openai", "openai-compatible", "azure-openai", "anthropic", "gemini"]
PROVIDER_TYPES: tuple[str, ...] = (
    "openai",
    "openai-compatible",
    "azure-openai",
    "anthropic",
    "gemini",
)


@dataclass(frozen=True, slots=True)
class CredentialRoute:
    id: str
    sealed_key: str
    weight: int = 1


@dataclass(frozen=True, slots=True)
class ProviderRoute:
    id: str
    name: str
    type: ProviderType
    base_url: str
    extra_headers: dict[str, str] = field(default_factory=dict)
    #: the extra headers, sealed as one value (`provider_headers.seal_headers`) since
    #: their values may be secrets; the control plane sends them only this way
    sealed_headers: str = ""


@dataclass(frozen=True, slots=True)
class DeploymentRoute:
    id: str
    provider: ProviderRoute
    upstream_model: str
    priority: int = 0
    weight: int = 1
    credentials: tuple[CredentialRoute, ...] = ()


@dataclass(frozen=True, slots=True)
class Pricing:
    """Prices in USD per million tokens; a model with none is served only when marked free."""

    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0
    cached_input_per_mtok: float = 0.0
    free: bool = False

    @property
    def priced(self) -> bool:
        """Whether calls of the model may be served: it has a price, or is free on purpose."""
        return self.free or self.input_per_mtok > 0 or self.output_per_mtok > 0


@dataclass(frozen=True, slots=True)
class ModelRoute:
    name: str
    deployments: tuple[DeploymentRoute, ...]
    pricing: Pricing = field(default_factory=Pricing)
    owned_by: str = "junction"
    created: int = 0


@dataclass(frozen=True, slots=True)
class TokenRoute:
    id: str
    tenant_id: str
    name: str
    prefix: str
    revoked: bool = False
    expires_at: float | None = None  # unix seconds
    allowed_models: tuple[str, ...] | None = None  # None: every model of the tenant
    rpm: int | None = None
    tpm: int | None = None
    #: spending cap in USD, and what the key had spent when resolved: over its
    #: life, or in `budget_window` when the budget has a period
    budget_usd: float | None = None
    spent_usd: float = 0.0
    budget_window: BudgetWindow | None = None
    #: the tenant's credit: prepaid tenants are refused what granted - charged cannot
    #: cover; postpaid ones only past their credit limit (None: no limit)
    billing: Literal["prepaid", "postpaid"] = "postpaid"
    credit_granted_usd: float = 0.0
    credit_charged_usd: float = 0.0
    credit_limit_usd: float | None = None
    #: the tenant's budget over all its keys (None: none) and what they had spent:
    #: over the tenant's life, or in `tenant_budget_window` when it has a period
    tenant_budget_usd: float | None = None
    tenant_spent_usd: float = 0.0
    tenant_budget_window: BudgetWindow | None = None


@dataclass(frozen=True, slots=True)
class Route:
    token: TokenRoute
    models: tuple[ModelRoute, ...]
    version: int = CONTRACT_VERSION
    issued_at: float = 0.0

    def model(self, name: str) -> ModelRoute | None:
        """The model route called `name`, if this key may see it."""
        for m in self.models:
            if m.name == name:
                return m
        return None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Route:
        """Parse a resolve answer; raise ContractError on any mismatch."""
        try:
            if not isinstance(data, dict):
                raise ContractError("route must be an object")
            version = int(data.get("version", 0))
            if version != CONTRACT_VERSION:
                raise ContractError(f"route version {version} is not {CONTRACT_VERSION}")
            t = data["token"]
            token = TokenRoute(
                id=str(t["id"]),
                tenant_id=str(t["tenant_id"]),
                name=str(t["name"]),
                prefix=str(t["prefix"]),
                revoked=bool(t.get("revoked", False)),
                expires_at=None if t.get("expires_at") is None else float(t["expires_at"]),
                allowed_models=(
                    None
                    if t.get("allowed_models") is None
                    else tuple(str(m) for m in t["allowed_models"])
                ),
                rpm=None if t.get("rpm") is None else int(t["rpm"]),
                tpm=None if t.get("tpm") is None else int(t["tpm"]),
                budget_usd=None if t.get("budget_usd") is None else float(t["budget_usd"]),
                spent_usd=float(t.get("spent_usd") or 0.0),
                billing=_billing(t.get("billing", "postpaid")),
                credit_granted_usd=float(t.get("credit_granted_usd") or 0.0),
                credit_charged_usd=float(t.get("credit_charged_usd") or 0.0),
                credit_limit_usd=(
                    None if t.get("credit_limit_usd") is None else float(t["credit_limit_usd"])
                ),
                budget_window=_window(t.get("budget_window")),
                tenant_budget_usd=(
                    None if t.get("tenant_budget_usd") is None else float(t["tenant_budget_usd"])
                ),
                tenant_spent_usd=float(t.get("tenant_spent_usd") or 0.0),
                tenant_budget_window=_window(t.get("tenant_budget_window")),
            )
            models = tuple(_model_from_dict(m) for m in data["models"])
            return cls(
                token=token,
                models=models,
                version=version,
                issued_at=float(data.get("issued_at", 0.0)),
            )
        except ContractError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ContractError(f"malformed route: {exc!r}") from exc


def _window(data: Any) -> BudgetWindow | None:
    """A budget's period from a route; absent (older control planes): over its life."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ContractError("a budget window must be an object")
    period = check_period(str(data["period"]))
    start, end = float(data["start"]), float(data["end"])
    if period == "lifetime" or not start < end:
        raise ContractError(f"malformed budget window {period!r} [{start}, {end})")
    return BudgetWindow(period, str(data.get("timezone") or "UTC"), start, end)


def _billing(value: Any) -> Literal["prepaid", "postpaid"]:
    if value == "prepaid":
        return "prepaid"
    if value == "postpaid":
        return "postpaid"
    raise ContractError(f"unknown billing {value!r}")


def _model_from_dict(m: dict[str, Any]) -> ModelRoute:
    p = m.get("pricing") or {}
    return ModelRoute(
        name=str(m["name"]),
        deployments=tuple(_deployment_from_dict(d) for d in m["deployments"]),
        pricing=Pricing(
            input_per_mtok=float(p.get("input_per_mtok", 0.0)),
            output_per_mtok=float(p.get("output_per_mtok", 0.0)),
            cached_input_per_mtok=float(p.get("cached_input_per_mtok", 0.0)),
            free=bool(p.get("free", False)),
        ),
        owned_by=str(m.get("owned_by", "junction")),
        created=int(m.get("created", 0)),
    )


def _deployment_from_dict(d: dict[str, Any]) -> DeploymentRoute:
    p = d["provider"]
    ptype = str(p["type"])
    if ptype not in PROVIDER_TYPES:
        raise ContractError(f"unknown provider type {ptype!r}")
    return DeploymentRoute(
        id=str(d["id"]),
        provider=ProviderRoute(
            id=str(p["id"]),
            name=str(p["name"]),
            type=cast(ProviderType, ptype),
            base_url=str(p["base_url"]),
            extra_headers={str(k): str(v) for k, v in (p.get("extra_headers") or {}).items()},
            sealed_headers=str(p.get("sealed_headers") or ""),
        ),
        upstream_model=str(d["upstream_model"]),
        priority=int(d.get("priority", 0)),
        weight=int(d.get("weight", 1)),
        credentials=tuple(
            CredentialRoute(
                id=str(c["id"]), sealed_key=str(c["sealed_key"]), weight=int(c.get("weight", 1))
            )
            for c in d.get("credentials", [])
        ),
    )
