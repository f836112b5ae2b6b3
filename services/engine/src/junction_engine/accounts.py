"""The accounts a call draws on: the key's budget, the tenant's budget, the tenant's credit.

Each is a limit and what the control plane had recorded as spent when the
route was resolved. A budget with a period (daily, weekly, monthly) carries
the period's bounds; its figures are kept per period (`Account.ledger`), so
each period counts from zero (see `reservations`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from junction_contracts import Route
from junction_contracts.periods import BudgetWindow


@dataclass(frozen=True, slots=True)
class Account:
    """Money a call draws on: a limit, and what the control plane had recorded as spent."""

    id: str  # e.g. "key:<token id>"; the tenant's id keeps its figures in one Redis slot
    tenant_id: str
    what: str  # for the refusal: "this API key's budget of $5.00"
    limit_usd: float
    spent_usd: float  # in `window` when there is one
    since: float  # when the control plane's figure was read (the route's issue time)
    window: BudgetWindow | None = None  # the budget's current period (None: its life)

    @property
    def ledger(self) -> str:
        """Where the account's figures are kept: one place per period."""
        if self.window is None:
            return self.id
        return f"{self.id}@{int(self.window.start)}"


def accounts_for(route: Route) -> list[Account]:
    """The accounts a call of this key draws on (none: nothing to hold).

    The key's budget, when it has one; the tenant's budget over all its
    keys, when it has one; the tenant's credit when it is prepaid (what it
    was granted, against what it was charged) or postpaid with a credit
    limit (granted plus the limit). A postpaid tenant without a limit is
    served on credit: nothing to hold.
    """
    token = route.token
    accounts: list[Account] = []
    if token.budget_usd is not None:
        kind = _kind(token.budget_window)
        accounts.append(
            Account(
                id=f"key:{token.id}",
                tenant_id=token.tenant_id,
                what=f"this API key's {kind}budget of ${token.budget_usd:.2f}",
                limit_usd=token.budget_usd,
                spent_usd=token.spent_usd,
                since=route.issued_at,
                window=token.budget_window,
            )
        )
    if token.tenant_budget_usd is not None:
        window = token.tenant_budget_window
        accounts.append(
            Account(
                id=f"budget:{token.tenant_id}",
                tenant_id=token.tenant_id,
                what=f"the tenant's {_kind(window)}budget of ${token.tenant_budget_usd:.2f}",
                limit_usd=token.tenant_budget_usd,
                spent_usd=token.tenant_spent_usd,
                since=route.issued_at,
                window=window,
            )
        )
    if token.billing == "prepaid":
        balance = token.credit_granted_usd - token.credit_charged_usd
        what = f"the tenant's prepaid credit (balance ${balance:.2f})"
        limit = token.credit_granted_usd
    elif token.credit_limit_usd is not None:
        what = f"the tenant's credit limit of ${token.credit_limit_usd:.2f}"
        limit = token.credit_granted_usd + token.credit_limit_usd
    else:
        return accounts
    accounts.append(
        Account(
            id=f"credit:{token.tenant_id}",
            tenant_id=token.tenant_id,
            what=what,
            limit_usd=limit,
            spent_usd=token.credit_charged_usd,
            since=route.issued_at,
        )
    )
    return accounts


def _kind(window: BudgetWindow | None) -> str:
    return "" if window is None else f"{window.period} "


@dataclass(frozen=True, slots=True)
class Shortfall:
    """Why a reservation was refused."""

    account: Account
    spent_usd: float
    held_usd: float
    wanted_usd: float


def explained(account: Account) -> Account:
    """The account as a refusal names it: a period budget says when it resets."""
    if account.window is None:
        return account
    resets = datetime.fromtimestamp(account.window.end, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return replace(account, what=f"{account.what} (it resets at {resets})")
