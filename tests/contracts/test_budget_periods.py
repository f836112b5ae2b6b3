"""Budget periods: both planes read the same calendar, to the second, in any time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from junction_contracts import Route, TokenRoute
from junction_contracts.errors import ContractError
from junction_contracts.periods import BudgetWindow, check_timezone, window_at


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def bounds(window: BudgetWindow) -> tuple[str, str]:
    return utc(window.start), utc(window.end)


def test_a_daily_period_in_utc_runs_from_midnight_to_midnight() -> None:
    window = window_at("daily", "UTC", at("2026-01-15T13:45:00+00:00"))
    assert bounds(window) == ("2026-01-15T00:00:00Z", "2026-01-16T00:00:00Z")


def test_a_daily_period_in_new_york_resets_at_five_utc_in_winter_and_four_in_summer() -> None:
    before = window_at("daily", "America/New_York", at("2026-01-15T04:59:59+00:00"))
    after = window_at("daily", "America/New_York", at("2026-01-15T05:00:00+00:00"))
    summer = window_at("daily", "America/New_York", at("2026-07-15T12:00:00+00:00"))

    assert bounds(before) == ("2026-01-14T05:00:00Z", "2026-01-15T05:00:00Z")
    assert bounds(after) == ("2026-01-15T05:00:00Z", "2026-01-16T05:00:00Z")
    assert bounds(summer) == ("2026-07-15T04:00:00Z", "2026-07-16T04:00:00Z")
    assert before.following() == after


def test_a_day_with_a_clock_change_is_as_long_as_the_day() -> None:
    spring = window_at("daily", "America/New_York", at("2026-03-08T12:00:00+00:00"))
    autumn = window_at("daily", "Europe/Paris", at("2026-10-25T12:00:00+00:00"))
    assert spring.end - spring.start == 23 * 3600
    assert autumn.end - autumn.start == 25 * 3600


def test_a_skipped_midnight_starts_the_day_when_the_clocks_jump() -> None:
    # Havana moves from 00:00 to 01:00 on 2026-03-08 (at 05:00 UTC)
    day = window_at("daily", "America/Havana", at("2026-03-08T05:00:00+00:00"))
    eve = window_at("daily", "America/Havana", at("2026-03-08T04:59:59+00:00"))
    assert bounds(day) == ("2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z")
    assert eve.end == day.start


def test_a_midnight_that_happens_twice_starts_the_day_at_the_first() -> None:
    # Havana moves from 01:00 back to 00:00 on 2026-11-01: midnight at 04:00 and 05:00 UTC
    during = window_at("daily", "America/Havana", at("2026-11-01T04:30:00+00:00"))
    again = window_at("daily", "America/Havana", at("2026-11-01T05:30:00+00:00"))
    assert during == again
    assert bounds(during) == ("2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z")


def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    week = window_at("weekly", "UTC", at("2026-01-15T12:00:00+00:00"))  # a Thursday
    december = window_at("monthly", "Europe/Paris", at("2026-12-15T12:00:00+00:00"))
    assert bounds(week) == ("2026-01-12T00:00:00Z", "2026-01-19T00:00:00Z")
    assert bounds(december) == ("2026-11-30T23:00:00Z", "2026-12-31T23:00:00Z")
    assert bounds(december.following()) == ("2026-12-31T23:00:00Z", "2027-01-31T23:00:00Z")


@pytest.mark.parametrize(
    "zone", ["UTC", "America/New_York", "Europe/Paris", "Asia/Kolkata", "America/Havana"]
)
@pytest.mark.parametrize("period", ["daily", "weekly", "monthly"])
def test_periods_follow_each_other_without_gap_or_overlap_all_year(zone: str, period: str) -> None:
    window = window_at(period, zone, at("2026-01-01T00:00:00+00:00"))  # type: ignore[arg-type]
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    while moment < datetime(2027, 1, 1, tzinfo=UTC):
        instant = moment.timestamp()
        if instant >= window.end:
            following = window.following()
            assert following.start == window.end
            window = following
        assert window.start <= instant < window.end
        assert window_at(window.period, zone, instant) == window
        moment += timedelta(hours=7)


@pytest.mark.parametrize("name", ["Mars/Olympus", "utc", "../etc/passwd", "/etc/localtime", ""])
def test_an_unknown_time_zone_is_refused_by_name(name: str) -> None:
    with pytest.raises(ValueError, match="time zone"):
        check_timezone(name)


def test_a_route_without_periods_is_a_lifetime_route() -> None:
    old = {
        "version": 1,
        "token": {"id": "t", "tenant_id": "x", "name": "n", "prefix": "p", "budget_usd": 5},
        "models": [],
    }
    token = Route.from_dict(old).token
    assert (token.budget_window, token.tenant_budget_usd, token.tenant_budget_window) == (
        None,
        None,
        None,
    )


def test_a_route_carries_both_budget_periods_both_ways() -> None:
    key = window_at("daily", "America/New_York", at("2026-01-15T12:00:00+00:00"))
    tenant = window_at("monthly", "UTC", at("2026-01-15T12:00:00+00:00"))
    route = Route(
        token=TokenRoute(
            id="t",
            tenant_id="x",
            name="n",
            prefix="p",
            budget_usd=5.0,
            spent_usd=1.25,
            budget_window=key,
            tenant_budget_usd=100.0,
            tenant_spent_usd=40.5,
            tenant_budget_window=tenant,
        ),
        models=(),
    )
    assert Route.from_dict(route.to_dict()) == route


@pytest.mark.parametrize(
    "window",
    [
        {"period": "lifetime", "timezone": "UTC", "start": 0, "end": 1},
        {"period": "hourly", "timezone": "UTC", "start": 0, "end": 1},
        {"period": "daily", "timezone": "UTC", "start": 10, "end": 10},
        "daily",
    ],
)
def test_a_malformed_budget_window_is_a_contract_error(window: object) -> None:
    data = {
        "version": 1,
        "token": {"id": "t", "tenant_id": "x", "name": "n", "prefix": "p", "budget_window": window},
        "models": [],
    }
    with pytest.raises(ContractError):
        Route.from_dict(data)
