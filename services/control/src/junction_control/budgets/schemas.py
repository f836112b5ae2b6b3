"""Budget period fields of the admin API's bodies: checked, with errors naming the field."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from junction_contracts.periods import MAX_TIMEZONE_CHARS, check_timezone

BudgetPeriod = Literal["lifetime", "daily", "weekly", "monthly"]
#: an IANA time zone name this machine knows (422 otherwise)
TimeZone = Annotated[
    str, Field(min_length=1, max_length=MAX_TIMEZONE_CHARS), AfterValidator(check_timezone)
]
