"""Shapes shared by every admin endpoint: errors, pages, checked text."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from junction_control.bounds import INT32_MAX, MAX_PRICE_PER_MTOK, MAX_USD
from junction_control.errors import InvalidInput
from junction_control.naming import check_slug

MAX_INT = INT32_MAX  # INTEGER columns are 32-bit on PostgreSQL (`bounds`)
DEFAULT_PAGE = 50
MAX_PAGE = 200


def _printable(value: str) -> str:
    # PostgreSQL refuses NUL in text, and control characters have no place in names
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not contain control characters")
    return value


def _slug(value: str) -> str:
    try:
        return check_slug(value, what="the")
    except InvalidInput:
        raise ValueError(
            "must be 1-100 characters of letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        ) from None


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range") from None


printable = AfterValidator(_printable)
UtcTime = Annotated[AwareDatetime, AfterValidator(_utc)]
ModelName = Annotated[str, Field(min_length=1, max_length=200), printable]
Slug = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_slug)]
PositiveInt = Annotated[int, Field(ge=1, le=MAX_INT)]
Money = Annotated[float, Field(ge=0, le=MAX_USD)]
Price = Annotated[float, Field(ge=0, le=MAX_PRICE_PER_MTOK)]  # USD per million tokens

T = TypeVar("T")


class Input(BaseModel):
    """Base of request bodies: unknown fields and NaN/Infinity are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    """Every error response."""

    error: ErrorDetail


class Page(BaseModel, Generic[T]):
    """One page of a list; pass `next_cursor` back as `cursor` for the next one."""

    items: list[T]
    next_cursor: str | None


class PageQuery(BaseModel):
    """``?limit=&cursor=`` of every list that can grow."""

    model_config = ConfigDict(extra="ignore")

    limit: int = Field(default=DEFAULT_PAGE, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(default=None, max_length=500)
