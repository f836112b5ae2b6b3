"""Money held before a call is forwarded, and settled when it ends.

Every call that can cost something first reserves its worst case against
each account it draws on (today the key's budget): the estimated input
tokens at the input price plus the call's output cap at the output price.
The call is refused, before any provider sees it, when an account's spent
money plus what calls in flight hold plus this reservation would pass the
account's limit. When the call ends, its hold is released and its actual
cost is added to what the account spent.

With Redis, one Lua script per admission checks and holds across every
account at once, on every engine replica: no read-then-write race, so
concurrent calls cannot all pass on the same remaining money. Each hold has
a deadline (the longest a call may run, plus a minute): an engine that dies
mid-call leaves a hold that lapses on its own. What an account spent is the
larger of Redis's running figure and the control plane's (carried by the
route), so a Redis that lost its data starts again from the database.

Without Redis, or while Redis fails, the same check runs in this engine's
memory, atomically within the engine: its own calls in flight are held, and
the account's spend is the route's figure plus what this engine's calls
cost since the route was issued. Other replicas' spend arrives with the next
route refresh (see the README's overdraft bound).

Amounts are kept in whole nano-dollars, so sums are exact.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from junction_contracts import Route
from junction_engine.budgets import SpendLedger
from junction_engine.redis_lane import LaneError, RedisLane

log = logging.getLogger("junction.engine.reservations")

NANO = 1_000_000_000
_PREFIX = "junction:money:v1:"
_KEY_TTL = 8 * 24 * 3600  # an idle account's figures outlive any budget period's reset

# KEYS, 4 per account: spent, held, holds (zset: call -> deadline), amounts
# (hash: call -> amount). ARGV: now, deadline, call id, amount, accounts,
# then per account its limit and the control plane's spent figure.
# Returns {0} when held, else {account number (from 1), spent, held}.
_RESERVE = """
local now, deadline, call = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local amount, n = tonumber(ARGV[4]), tonumber(ARGV[5])
for i = 0, n - 1 do
  local spent_key, held_key, holds, amounts = KEYS[i*4+1], KEYS[i*4+2], KEYS[i*4+3], KEYS[i*4+4]
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', holds, '-inf', now, 'LIMIT', 0, 100)) do
    redis.call('DECRBY', held_key, tonumber(redis.call('HGET', amounts, id) or '0'))
    redis.call('HDEL', amounts, id)
    redis.call('ZREM', holds, id)
  end
  local limit, known = tonumber(ARGV[6 + i*2]), tonumber(ARGV[7 + i*2])
  local spent = tonumber(redis.call('GET', spent_key) or '0')
  if known > spent then
    redis.call('SET', spent_key, known)
    spent = known
  end
  local held = tonumber(redis.call('GET', held_key) or '0')
  if spent + held + amount > limit then
    return {i + 1, tostring(spent), tostring(held)}
  end
end
for i = 0, n - 1 do
  redis.call('INCRBY', KEYS[i*4+2], amount)
  redis.call('ZADD', KEYS[i*4+3], deadline, call)
  redis.call('HSET', KEYS[i*4+4], call, amount)
  for k = 1, 4 do redis.call('EXPIRE', KEYS[i*4+k], ARGV[6 + n*2]) end
end
return {0}
"""

# KEYS as above; ARGV: call id, cost, accounts, ttl. Releases the call's hold
# (if it has not lapsed) and adds its cost to what each account spent.
_SETTLE = """
local call, cost, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 0, n - 1 do
  local amount = redis.call('HGET', KEYS[i*4+4], call)
  if amount then
    redis.call('DECRBY', KEYS[i*4+2], tonumber(amount))
    redis.call('HDEL', KEYS[i*4+4], call)
    redis.call('ZREM', KEYS[i*4+3], call)
  end
  if cost > 0 then redis.call('INCRBY', KEYS[i*4+1], cost) end
  for k = 1, 4 do redis.call('EXPIRE', KEYS[i*4+k], ARGV[4]) end
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Account:
    """Money a call draws on: a limit, and what the control plane had recorded as spent."""

    id: str  # e.g. "key:<token id>"; the tenant's id keeps its figures in one Redis slot
    tenant_id: str
    what: str  # for the refusal: "this API key's budget of $5.00"
    limit_usd: float
    spent_usd: float
    since: float  # when the control plane's figure was read (the route's issue time)


def accounts_for(route: Route) -> list[Account]:
    """The accounts a call of this key draws on (none: nothing to hold).

    The key's budget, when it has one; the tenant's credit when it is
    prepaid (what it was granted, against what it was charged) or postpaid
    with a credit limit (granted plus the limit). A postpaid tenant without
    a limit is served on credit: nothing to hold.
    """
    token = route.token
    accounts: list[Account] = []
    if token.budget_usd is not None:
        accounts.append(
            Account(
                id=f"key:{token.id}",
                tenant_id=token.tenant_id,
                what=f"this API key's budget of ${token.budget_usd:.2f}",
                limit_usd=token.budget_usd,
                spent_usd=token.spent_usd,
                since=route.issued_at,
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


@dataclass(frozen=True, slots=True)
class Shortfall:
    """Why a reservation was refused."""

    account: Account
    spent_usd: float
    held_usd: float
    wanted_usd: float


@dataclass(slots=True)
class _Hold:
    accounts: list[Account]
    amount: int  # nano-dollars
    deadline: float
    in_redis: bool


@dataclass(slots=True)
class _Local:
    """This engine's holds of one account."""

    held: int = 0
    calls: dict[str, int] = field(default_factory=dict)


def to_nano(usd: float) -> int:
    return math.ceil(usd * NANO - 1e-6)  # a reservation never rounds down to less


def _keys(account: Account) -> list[str]:
    base = f"{_PREFIX}{{{account.tenant_id}}}:{account.id}"
    return [f"{base}:spent", f"{base}:held", f"{base}:holds", f"{base}:amounts"]


class Reservations:
    """See the module docstring."""

    def __init__(
        self,
        lane: RedisLane | None,
        *,
        hold_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lane = lane
        self._hold_seconds = hold_seconds
        self._clock = clock
        self._reserve = lane.script(_RESERVE) if lane is not None else ""
        self._settle = lane.script(_SETTLE) if lane is not None else ""
        self._holds: dict[str, _Hold] = {}  # call id -> its hold, until settled
        self._local: dict[str, _Local] = {}
        self.spend = SpendLedger(clock=clock)  # this engine's finished calls, per account
        self._pending: set[asyncio.Task[None]] = set()
        self._next_lapse = 0.0

    @property
    def in_flight(self) -> int:
        """Calls holding money now."""
        return len(self._holds)

    async def reserve(
        self, call_id: str, accounts: list[Account], amount_usd: float
    ) -> Shortfall | None:
        """Hold `amount_usd` on every account for the call, or say which cannot cover it."""
        if not accounts:
            return None
        amount = to_nano(amount_usd)
        now = self._clock()
        deadline = now + self._hold_seconds
        if self._lane is not None:
            keys = [k for account in accounts for k in _keys(account)]
            args: list[str | int | float] = [
                int(now * 1000),
                int(deadline * 1000),
                call_id,
                amount,
                len(accounts),
            ]
            for account in accounts:
                args += [to_nano(account.limit_usd), round(account.spent_usd * NANO)]
            args.append(_KEY_TTL)
            try:
                answer = await self._lane.run(self._reserve, keys, args)
            except LaneError as exc:
                log.warning("reservations fall back to this replica (%s)", exc)
            else:
                if int(answer[0]) == 0:
                    self._holds[call_id] = _Hold(accounts, amount, deadline, in_redis=True)
                    self._hold_here(call_id, accounts, amount)
                    return None
                return Shortfall(
                    accounts[int(answer[0]) - 1],
                    int(answer[1]) / NANO,
                    int(answer[2]) / NANO,
                    amount_usd,
                )
        return self._reserve_here(call_id, accounts, amount, deadline, amount_usd)

    def settle(self, call_id: str, cost_usd: float) -> None:
        """The call ended: release its hold, count its cost (never blocks the caller)."""
        hold = self._holds.pop(call_id, None)
        if hold is None:
            return
        for account in hold.accounts:
            local = self._local.get(account.id)
            if local is not None and local.calls.pop(call_id, None) is not None:
                local.held -= hold.amount
                if not local.calls:
                    del self._local[account.id]
            self.spend.add(account.id, cost_usd)
        if hold.in_redis and self._lane is not None:
            settling = self._settle_in_redis(call_id, hold, cost_usd)
            task = asyncio.get_running_loop().create_task(settling)
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def flush(self) -> None:
        """Wait for every settlement on its way to Redis."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def _settle_in_redis(self, call_id: str, hold: _Hold, cost_usd: float) -> None:
        assert self._lane is not None
        keys = [k for account in hold.accounts for k in _keys(account)]
        args: list[str | int | float] = [call_id, to_nano(cost_usd), len(hold.accounts), _KEY_TTL]
        try:
            await self._lane.run(self._settle, keys, args)
        except LaneError as exc:
            # the hold lapses at its deadline; the cost reaches the accounts
            # through the control plane's records and the next route
            log.warning("a settlement did not reach Redis (%s)", exc)

    def _reserve_here(
        self,
        call_id: str,
        accounts: list[Account],
        amount: int,
        deadline: float,
        amount_usd: float,
    ) -> Shortfall | None:
        self._lapse()
        for account in accounts:
            spent = to_nano(account.spent_usd + self.spend.since(account.id, account.since))
            local = self._local.get(account.id)
            held = local.held if local is not None else 0
            if spent + held + amount > to_nano(account.limit_usd):
                return Shortfall(account, spent / NANO, held / NANO, amount_usd)
        self._holds[call_id] = _Hold(accounts, amount, deadline, in_redis=False)
        self._hold_here(call_id, accounts, amount)
        return None

    def _hold_here(self, call_id: str, accounts: list[Account], amount: int) -> None:
        for account in accounts:
            local = self._local.get(account.id)
            if local is None:
                local = self._local[account.id] = _Local()
            local.calls[call_id] = amount
            local.held += amount

    def _lapse(self) -> None:
        """Drop holds past their deadline (a call that never ended), once a minute."""
        now = self._clock()
        if now < self._next_lapse:
            return
        self._next_lapse = now + 60.0
        for call_id in [c for c, h in self._holds.items() if h.deadline < now]:
            self.settle(call_id, 0.0)


def output_cap(call_body: dict[str, object], client: str) -> int | None:
    """The most output tokens the client allowed, when it said."""
    if client == "gemini":
        config = call_body.get("generationConfig") or call_body.get("generation_config")
        if not isinstance(config, dict):
            return None
        cap = config.get("maxOutputTokens", config.get("max_output_tokens"))
    elif client == "openai":
        cap = call_body.get("max_completion_tokens", call_body.get("max_tokens"))
    else:
        cap = call_body.get("max_tokens")
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 0:
        return None
    return cap


def worst_case_usd(
    pricing_in: float, pricing_out: float, body_bytes: int, output_tokens: int
) -> float:
    """A call's most cost: every 4 body bytes an input token, the output cap in full."""
    return (math.ceil(body_bytes / 4) * pricing_in + output_tokens * pricing_out) / 1_000_000
