"""Market status from a real exchange calendar (``exchange_calendars``, NYSE by default).

- :func:`market_status`: open or closed now, today's holiday or early close,
  the next open, and a one-line label for the web page and the email.
- :func:`is_last_trading_day_of_month`: the month-end rule of the ledger update.
- :func:`month_end_update_due`: last trading day of the month and after 13:00
  local time (``pipeline.md`` section 9).

Every function takes the time (``now``) or date as an argument so tests and
the daily run decide the clock; a naive ``now`` is local time.  Calendars are
built for a short window around the date asked about (fast, and valid for any
date the library supports).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import exchange_calendars as xcals
import pandas as pd

__all__ = [
    "DEFAULT_EXCHANGE",
    "MarketStatus",
    "market_status",
    "is_last_trading_day_of_month",
    "month_end_update_due",
]

log = logging.getLogger(__name__)

DEFAULT_EXCHANGE = "XNYS"
_EXCHANGE_NAMES = {"XNYS": "NYSE", "XNAS": "Nasdaq"}
_WINDOW_DAYS = 45


@dataclass(frozen=True)
class MarketStatus:
    """The state of an exchange at one moment (all times in the exchange's zone).

    - ``is_open``: inside a trading session now.
    - ``is_trading_day``: today (exchange date) has a session.
    - ``holiday``: the name of today's holiday on a weekday without a session
      (``"special closure"`` for an unnamed one), else None.
    - ``early_close``: today's session closes before the regular time;
      ``early_close_name`` is the reason when the calendar knows it.
    - ``close``: today's close (None on a day without a session).
    - ``next_open``: the next session open after ``now``.
    """

    exchange: str
    now: dt.datetime
    is_open: bool
    is_trading_day: bool
    holiday: str | None
    early_close: bool
    early_close_name: str | None
    close: dt.datetime | None
    next_open: dt.datetime

    @property
    def name(self) -> str:
        """A readable exchange name (``NYSE`` for ``XNYS``)."""
        return _EXCHANGE_NAMES.get(self.exchange, self.exchange)

    @property
    def label(self) -> str:
        """One line for people, e.g. ``NYSE open — closes 16:00 EST``."""
        nxt = self.next_open
        when_next = f"{nxt:%a %Y-%m-%d %H:%M %Z}"
        if self.is_open and self.close is not None:
            closes = f"{self.close:%H:%M %Z}"
            if self.early_close:
                why = f" ({self.early_close_name})" if self.early_close_name else ""
                return f"{self.name} open — early close at {closes}{why}"
            return f"{self.name} open — closes {closes}"
        if self.holiday == "special closure":
            return f"{self.name} closed (special closure) — next open {when_next}"
        if self.holiday:
            return f"{self.name} closed for {self.holiday} — next open {when_next}"
        if not self.is_trading_day:
            return f"{self.name} closed (weekend) — next open {when_next}"
        if self.close is not None and self.now >= self.close:
            return f"{self.name} closed for the day — next open {when_next}"
        return f"{self.name} closed — opens {nxt:%H:%M %Z}"


def _aware(now: dt.datetime | None) -> pd.Timestamp:
    if now is None:
        now = dt.datetime.now().astimezone()
    elif now.tzinfo is None:
        now = now.astimezone()
    return pd.Timestamp(now)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Hide the library's own deprecation warnings while it is queried.

    exchange_calendars 4.13 trips pandas 3.1's deprecation of tz-dropping
    ``.values``; that warning is about the library, not the user's setup.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _calendar(day: dt.date, exchange: str) -> xcals.ExchangeCalendar:
    start = pd.Timestamp(day - dt.timedelta(days=_WINDOW_DAYS))
    end = pd.Timestamp(day + dt.timedelta(days=_WINDOW_DAYS))
    try:
        return xcals.get_calendar(exchange, start=start, end=end)
    except Exception as exc:  # the library raises several error types for bad ranges/names
        raise ValueError(
            f"exchange calendar {exchange!r} cannot cover {day.isoformat()}: {exc}"
        ) from exc


def _holiday_name(cal: xcals.ExchangeCalendar, day: pd.Timestamp) -> str | None:
    rules = cal.regular_holidays
    if rules is not None:
        names = rules.holidays(day, day, return_name=True)
        if len(names):
            return str(names.iloc[0])
    for adhoc in cal.adhoc_holidays:
        if pd.Timestamp(adhoc).normalize() == day:
            return "special closure"
    return None


def _early_close_name(cal: xcals.ExchangeCalendar, day: pd.Timestamp) -> str | None:
    for _time, rules in cal.special_closes:
        names = rules.holidays(day, day, return_name=True) if rules is not None else []
        if len(names):
            return str(names.iloc[0])
    return None


def market_status(now: dt.datetime | None = None, exchange: str = DEFAULT_EXCHANGE) -> MarketStatus:
    """The status of ``exchange`` at ``now`` (default: the current time).

    Reads the calendar of ``exchange_calendars``; returns a :class:`MarketStatus`
    whose times are in the exchange's time zone.  Raises ``ValueError`` for an
    unknown exchange or a date the library cannot cover.
    """
    ts = _aware(now)
    with _quiet():
        return _status(ts, exchange)


def _status(ts: pd.Timestamp, exchange: str) -> MarketStatus:
    cal = _calendar(ts.date(), exchange)
    tz = cal.tz
    local = ts.tz_convert(tz)
    today = pd.Timestamp(local.date())
    is_session = bool(cal.is_session(today))
    is_open = bool(cal.is_open_on_minute(ts.tz_convert("UTC")))
    close: dt.datetime | None = None
    early = False
    early_name = None
    holiday = None
    if is_session:
        close_ts = cal.session_close(today).tz_convert(tz)
        close = close_ts.to_pydatetime()
        regular = cal.close_times[-1][1]
        early = close_ts.time() < regular
        if early:
            early_name = _early_close_name(cal, today)
    elif today.weekday() < 5:
        holiday = _holiday_name(cal, today) or "special closure"
    next_open = cal.next_open(ts.tz_convert("UTC")).tz_convert(tz).to_pydatetime()
    return MarketStatus(
        exchange=exchange,
        now=local.to_pydatetime(),
        is_open=is_open,
        is_trading_day=is_session,
        holiday=holiday,
        early_close=early,
        early_close_name=early_name,
        close=close,
        next_open=next_open,
    )


def is_last_trading_day_of_month(day: dt.date, exchange: str = DEFAULT_EXCHANGE) -> bool:
    """True when ``day`` has a session and the next session is in a later month.

    Raises ``ValueError`` for an unknown exchange or an uncovered date.
    """
    with _quiet():
        cal = _calendar(day, exchange)
        ts = pd.Timestamp(day)
        if not cal.is_session(ts):
            return False
        nxt = cal.next_session(ts)
    return (nxt.year, nxt.month) != (day.year, day.month)


def month_end_update_due(now: dt.datetime | None = None, exchange: str = DEFAULT_EXCHANGE) -> bool:
    """True on the last trading day of the month at or after 13:00 local time.

    ``now`` is local time when naive; an aware ``now`` is converted to the
    machine's local zone.  Raises like :func:`is_last_trading_day_of_month`.
    """
    if now is None:
        now = dt.datetime.now()
    elif now.tzinfo is not None:
        now = now.astimezone()
    return now.hour >= 13 and is_last_trading_day_of_month(now.date(), exchange)
