"""Request and response bodies of the user-token endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from junction_control.admin.schemas import Input, ModelName, Money, Page, PositiveInt, Slug, UtcTime
from junction_control.budgets.schemas import BudgetPeriod, TimeZone
from junction_control.budgets.spend import PeriodSpend
from junction_control.tokens.models import UserToken
from junction_control.tokens.service import TokenLimits

ModelList = Annotated[list[ModelName], Field(max_length=1000)]


class TokenPatch(Input):
    """Limits of a token; a field left out is kept, ``null`` lifts the limit."""

    models: ModelList | None = None
    rpm: PositiveInt | None = None
    tpm: PositiveInt | None = None
    budget_usd: Money | None = None
    expires_at: UtcTime | None = None
    budget_period: BudgetPeriod = "lifetime"
    budget_timezone: TimeZone = "UTC"

    def limits(self, current: TokenLimits | None = None) -> TokenLimits:
        """`current` with the fields this body sets replaced."""
        base = current or TokenLimits()
        given = self.model_fields_set
        return TokenLimits(
            allowed_models=(
                (None if self.models is None else tuple(self.models))
                if "models" in given
                else base.allowed_models
            ),
            rpm=self.rpm if "rpm" in given else base.rpm,
            tpm=self.tpm if "tpm" in given else base.tpm,
            budget_usd=self.budget_usd if "budget_usd" in given else base.budget_usd,
            expires_at=self.expires_at if "expires_at" in given else base.expires_at,
            budget_period=self.budget_period if "budget_period" in given else base.budget_period,
            budget_timezone=(
                self.budget_timezone if "budget_timezone" in given else base.budget_timezone
            ),
        )


class TokenIn(TokenPatch):
    """A new token; `models` left out means every model of the tenant."""

    name: Slug


class TokenOut(BaseModel):
    id: str
    name: str
    prefix: str
    owner_user_id: str | None
    models: list[str] | None
    rpm: int | None
    tpm: int | None
    budget_usd: float | None
    budget_period: str
    budget_timezone: str
    #: spent in the current period (over the key's life for a lifetime budget)
    spent_usd: float
    period_start: datetime | None
    resets_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime
    last_used_at: datetime | None

    @classmethod
    def of(cls, token: UserToken, spend: PeriodSpend, models: list[str] | None) -> TokenOut:
        """The token as shown; `models` are its allowed models' current names."""
        return cls.model_validate(_fields(token, spend, models))


class TokenCreated(TokenOut):
    """A new token with its raw value: shown this once, never again."""

    token: str


def _fields(token: UserToken, spend: PeriodSpend, models: list[str] | None) -> dict[str, object]:
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "owner_user_id": token.owner_user_id,
        "models": models,
        "rpm": token.rpm,
        "tpm": token.tpm,
        "budget_usd": token.budget_usd,
        "budget_period": token.budget_period,
        "budget_timezone": token.budget_timezone,
        "spent_usd": spend.spent_usd,
        "period_start": spend.period_start,
        "resets_at": spend.resets_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
        "created_at": token.created_at,
        "last_used_at": token.last_used_at,
    }


def created(
    token: UserToken, raw: str, spend: PeriodSpend, models: list[str] | None
) -> TokenCreated:
    """The response to a token creation."""
    return TokenCreated.model_validate({**_fields(token, spend, models), "token": raw})


TokenPage = Page[TokenOut]
