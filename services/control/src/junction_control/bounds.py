"""The bounds of every number an admin writes: what both databases store.

SQLite stores any integer up to 64 bits in any column; PostgreSQL's INTEGER
is 32-bit. A value past a column's size would be accepted on one database
and fail with a driver error on the other, so every number is checked here,
before any write, with the same InvalidInput on both. The admin API's
schemas, the CLI and `apply -f` use these bounds (INTEGER columns: rpm, tpm,
weights, priorities).

Money is stored as double precision, but hourly rollups add costs as whole
nano-USD in BIGINT: a price is kept low enough that a call's cost fits many
times over, and an amount low enough to stay exact to the cent.
"""

from __future__ import annotations

import math

from junction_control.errors import InvalidInput

INT32_MAX = 2**31 - 1  # INTEGER on PostgreSQL
BIGINT_MAX = 2**63 - 1  # BIGINT (token totals of the rollups)
MAX_USD = 1e12  # budgets and other amounts
# USD per million tokens: a million-token call at this price is 1e15 nano-USD,
# far inside BIGINT's 9.2e18 for an hour's sum
MAX_PRICE_PER_MTOK = 1e6


def check_int(value: int, what: str, low: int, high: int = INT32_MAX) -> int:
    """`value` if it is a whole number from `low` to `high`, else InvalidInput naming `what`."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{what} must be an integer from {low} to {high}, got {value}")
    return value


def check_amount(value: float, what: str, high: float = MAX_USD) -> float:
    """`value` if it is a finite number from 0 to `high`, else InvalidInput naming `what`."""
    if not math.isfinite(value) or not 0 <= value <= high:
        raise InvalidInput(f"{what} must be a number from 0 to {high:.0f}, got {value}")
    return value
