"""Money held before a call is forwarded, and settled when it ends.

Every call that can cost something first reserves its worst case against
each account it draws on (the key's budget, the tenant's budget, the
tenant's credit): the estimated input tokens at the input price plus the
call's output cap at the output price.
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

A budget with a period (daily, weekly, monthly) is one account per period:
its Redis keys and its figures here are named by the period's start, so a
new period counts from zero by itself and the old period's keys expire soon
after it ends. The route carries the current period's bounds; when the clock
reaches the end before the route is refreshed, the next period is taken here
(its bounds computed once per roll, then cached), so the reset happens at
the boundary to the second. A call counts in the period it was admitted in.

Amounts are kept in whole nano-dollars, so sums are exact.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from junction_contracts.periods import BudgetWindow
from junction_engine.accounts import Account, Shortfall, accounts_for, explained
from junction_engine.budgets import SpendLedger
from junction_engine.redis_lane import LaneError, RedisLane

__all__ = [
    "Account",
    "Reservations",
    "Shortfall",
    "accounts_for",
    "output_cap",
    "to_nano",
    "worst_case_usd",
]

log = logging.getLogger("junction.engine.reservations")

NANO = 1_000_000_000
_PREFIX = "junction:money:v1:"
_KEY_TTL = 8 * 24 * 3600  # how long an idle lifetime account's figures are kept
_PERIOD_GRACE = 60.0  # a period's keys outlive its end (and its last holds) by this
_ROLLS_KEPT = 4096  # cached next periods, by (period, zone, end)

# KEYS, 4 per account: spent, held, holds (zset: call -> deadline), amounts
# (hash: call -> amount). ARGV: now, deadline, call id, amount, accounts,
# then per account its limit, the control plane's spent figure and the keys'
# time to live. Returns {0} when held, else {account number (from 1), spent, held}.
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
  local limit, known = tonumber(ARGV[6 + i*3]), tonumber(ARGV[7 + i*3])
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
  for k = 1, 4 do redis.call('EXPIRE', KEYS[i*4+k], ARGV[8 + i*3]) end
end
return {0}
"""

# KEYS as above; ARGV: call id, cost, accounts, then each account's time to
# live. Releases the call's hold (if it has not lapsed) and adds its cost to
# what each account spent.
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
  for k = 1, 4 do redis.call('EXPIRE', KEYS[i*4+k], ARGV[4 + i]) end
end
return 0
"""


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
    base = f"{_PREFIX}{{{account.tenant_id}}}:{account.ledger}"
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
        self._rolls: dict[tuple[str, str, float], BudgetWindow] = {}

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
        accounts = [
            a if a.window is None or now < a.window.end else self._rolled(a, now) for a in accounts
        ]
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
                args += [
                    to_nano(account.limit_usd),
                    round(account.spent_usd * NANO),
                    self._ttl(account, now),
                ]
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
                    explained(accounts[int(answer[0]) - 1]),
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
            local = self._local.get(account.ledger)
            if local is not None and local.calls.pop(call_id, None) is not None:
                local.held -= hold.amount
                if not local.calls:
                    del self._local[account.ledger]
            self.spend.add(account.ledger, cost_usd)
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
        now = self._clock()
        args: list[str | int | float] = [call_id, to_nano(cost_usd), len(hold.accounts)]
        args += [self._ttl(account, now) for account in hold.accounts]
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
            spent = to_nano(account.spent_usd + self.spend.since(account.ledger, account.since))
            local = self._local.get(account.ledger)
            held = local.held if local is not None else 0
            if spent + held + amount > to_nano(account.limit_usd):
                return Shortfall(explained(account), spent / NANO, held / NANO, amount_usd)
        self._holds[call_id] = _Hold(accounts, amount, deadline, in_redis=False)
        self._hold_here(call_id, accounts, amount)
        return None

    def _hold_here(self, call_id: str, accounts: list[Account], amount: int) -> None:
        for account in accounts:
            local = self._local.get(account.ledger)
            if local is None:
                local = self._local[account.ledger] = _Local()
            local.calls[call_id] = amount
            local.held += amount

    def _rolled(self, account: Account, now: float) -> Account:
        """The account in the period holding `now`: its route was issued in an earlier one.

        The control plane's figure was for that earlier period, so the new one
        starts from what this engine (or Redis) counted in it: nothing, at first.
        """
        window = account.window
        assert window is not None
        key = (window.period, window.timezone, window.end)
        following = self._rolls.get(key)
        try:
            if following is None:
                following = window.following()
            while now >= following.end:  # a route older than a whole period
                following = following.following()
        except ValueError as exc:
            # a zone this machine does not know: keep the route's period until it is refreshed
            log.warning("budget period of %s not rolled over (%s)", account.id, exc)
            return account
        if len(self._rolls) >= _ROLLS_KEPT:
            self._rolls.clear()
        self._rolls[key] = following
        return replace(account, spent_usd=0.0, since=following.start, window=following)

    def _ttl(self, account: Account, now: float) -> int:
        """How long the account's Redis keys live: a period's, until just after it ends."""
        if account.window is None:
            return _KEY_TTL
        return max(60, math.ceil(account.window.end - now + self._hold_seconds + _PERIOD_GRACE))

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
        # chat's two names, then the Responses API's
        cap = call_body.get(
            "max_completion_tokens", call_body.get("max_tokens", call_body.get("max_output_tokens"))
        )
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
