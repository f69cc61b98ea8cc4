"""Market status and the month-end rule from the real NYSE calendar (exchange_calendars)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from pytaaa.account.market import (
    is_last_trading_day_of_month,
    market_status,
    month_end_update_due,
)

NY = ZoneInfo("America/New_York")


def at(y: int, m: int, d: int, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=NY)


def test_regular_session_open() -> None:
    s = market_status(at(2024, 12, 27, 10))
    assert s.is_open and s.is_trading_day and not s.early_close and s.holiday is None
    assert s.close == at(2024, 12, 27, 16)
    assert s.label == "NYSE open — closes 16:00 EST"


def test_aware_time_in_another_zone_is_converted() -> None:
    s = market_status(dt.datetime(2024, 12, 27, 15, 0, tzinfo=dt.timezone.utc))  # 10:00 EST
    assert s.is_open and s.now == at(2024, 12, 27, 10)


def test_before_open_and_after_close() -> None:
    before = market_status(at(2024, 12, 27, 8))
    assert not before.is_open and before.next_open == at(2024, 12, 27, 9, 30)
    assert before.label == "NYSE closed — opens 09:30 EST"
    after = market_status(at(2024, 12, 27, 17))
    assert not after.is_open and after.next_open == at(2024, 12, 30, 9, 30)
    assert after.label == "NYSE closed for the day — next open Mon 2024-12-30 09:30 EST"


def test_holiday_named() -> None:
    s = market_status(at(2024, 12, 25, 12))
    assert not s.is_open and not s.is_trading_day and s.holiday == "Christmas"
    assert s.next_open == at(2024, 12, 26, 9, 30)
    assert s.label == "NYSE closed for Christmas — next open Thu 2024-12-26 09:30 EST"


def test_unnamed_special_closure() -> None:
    s = market_status(at(2025, 1, 9, 11))  # national day of mourning
    assert s.holiday == "special closure" and not s.is_open
    assert s.label.startswith("NYSE closed (special closure)")


def test_early_close_day() -> None:
    s = market_status(at(2024, 11, 29, 12))
    assert s.is_open and s.early_close and s.close == at(2024, 11, 29, 13)
    assert s.early_close_name == "Black Friday"
    assert s.label == "NYSE open — early close at 13:00 EST (Black Friday)"
    later = market_status(at(2024, 11, 29, 13, 30))
    assert not later.is_open and later.label.startswith("NYSE closed for the day")


def test_weekend() -> None:
    s = market_status(at(2024, 12, 28, 12))
    assert not s.is_trading_day and s.holiday is None
    assert s.label == "NYSE closed (weekend) — next open Mon 2024-12-30 09:30 EST"


@pytest.mark.parametrize(("day", "expected"), [
    (dt.date(2024, 3, 28), True),    # Good Friday 29th is a holiday
    (dt.date(2024, 3, 29), False),   # the holiday itself
    (dt.date(2024, 5, 30), False),
    (dt.date(2024, 5, 31), True),
    (dt.date(2024, 8, 30), True),    # Friday; the 31st is a Saturday
    (dt.date(2024, 11, 30), False),  # Saturday
    (dt.date(2024, 12, 31), True),
])
def test_last_trading_day_of_month(day: dt.date, expected: bool) -> None:
    assert is_last_trading_day_of_month(day) is expected


def test_month_end_update_after_13_local() -> None:
    assert not month_end_update_due(dt.datetime(2024, 5, 31, 12, 59))
    assert month_end_update_due(dt.datetime(2024, 5, 31, 13, 0))
    assert not month_end_update_due(dt.datetime(2024, 5, 30, 14, 0))


def test_unknown_exchange_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="exchange calendar 'NOPE' cannot cover 2024-05-31"):
        is_last_trading_day_of_month(dt.date(2024, 5, 31), exchange="NOPE")
