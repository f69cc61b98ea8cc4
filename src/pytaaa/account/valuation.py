"""Holdings valuation at today's prices (``pipeline.md`` section 9, ``data-quality.md`` 4).

- :func:`value_holdings`: the user's holdings valued at today's P: per-lot rows
  for the holdings table, the total, the lifetime profit (value − cumulative
  cash in) and the real annualized return ``(value / cash in) ** (1 / years) − 1``
  with ``years`` counted from the first trade date of the holdings file (None
  without one, or on that same day).
- :func:`prices_today`, :func:`quote_dates`, :func:`stale_today`,
  :func:`ranks_today`: what an :class:`~pytaaa.model.Analysis` says about today.

Real quotes: a held symbol without a quote today is valued at its last real
quote and flagged with that quote's date; one never quoted at all is valued at
its buy price and flagged "not quoted" (never at a made-up price).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np

from pytaaa.account.ledger import Holdings
from pytaaa.model import Analysis

__all__ = [
    "Position",
    "PortfolioValue",
    "prices_today",
    "quote_dates",
    "stale_today",
    "ranks_today",
    "value_holdings",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Position:
    """One lot of the holdings valued today (CASH: shares are dollars, price 1)."""

    symbol: str
    shares: float
    buy_price: float
    price: float
    quoted: bool = True
    rank: int | None = None
    weight: float = 0.0
    quote_date: dt.date | None = None
    stale: bool = False

    @property
    def flag(self) -> str:
        """Why the price is not today's quote ("" when it is): "not quoted" (valued
        at the buy price), "last quote YYYY-MM-DD" or "stale: last quote ..."."""
        if self.quoted or self.symbol == "CASH":
            return ""
        if self.quote_date is None:
            return "not quoted"
        return f"{'stale: ' if self.stale else ''}last quote {self.quote_date.isoformat()}"

    @property
    def cost(self) -> float:
        return self.shares * self.buy_price

    @property
    def value(self) -> float:
        return self.shares * self.price

    @property
    def change_pct(self) -> float | None:
        """Percent change since purchase (None for a zero buy price)."""
        if self.buy_price <= 0:
            return None
        return (self.price / self.buy_price - 1.0) * 100.0


@dataclass(frozen=True)
class PortfolioValue:
    """The holdings valued at today's closes."""

    date: dt.date
    positions: tuple[Position, ...]
    cumulative_cash_in: float
    first_trade_date: dt.date | None = None

    @property
    def total(self) -> float:
        return float(sum(p.value for p in self.positions))

    @property
    def cost(self) -> float:
        return float(sum(p.cost for p in self.positions))

    @property
    def cash(self) -> float:
        return float(sum(p.value for p in self.positions if p.symbol == "CASH"))

    @property
    def profit(self) -> float:
        """Lifetime profit: value − cumulative cash in."""
        return self.total - self.cumulative_cash_in

    @property
    def profit_pct(self) -> float | None:
        if self.cumulative_cash_in <= 0:
            return None
        return self.profit / self.cumulative_cash_in * 100.0

    @property
    def years(self) -> float | None:
        """Years since the first trade date (None without one)."""
        if self.first_trade_date is None:
            return None
        return (self.date - self.first_trade_date).days / 365.25

    @property
    def annualized_return(self) -> float | None:
        """CAGR since the first trade date as a fraction (0.12 = 12 %/year), or None
        (also below one year of history: a shorter period is never annualized;
        show :attr:`profit_pct`, the total return, instead)."""
        years = self.years
        total = self.total
        if years is None or years < 1 or self.cumulative_cash_in <= 0 or total <= 0:
            return None
        return (total / self.cumulative_cash_in) ** (1.0 / years) - 1.0


def prices_today(analysis: Analysis) -> dict[str, float]:
    """Symbol -> today's P (CASH 1.0) from an :class:`Analysis`: the last real quote
    at or before today.  A symbol never quoted up to today has no price (it is
    left out, never valued at a made-up price)."""
    col = len(analysis.dates) - 1
    close = analysis.prices.close[:, col]
    exists = analysis.prices.first_valid <= col
    out = {s: float(p) for s, p, ok in zip(analysis.symbols, close, exists)
           if ok and math.isfinite(float(p))}
    out["CASH"] = 1.0
    return out


def quote_dates(analysis: Analysis) -> dict[str, dt.date]:
    """Symbol -> date of its last real quote at or before today (never-quoted
    symbols are left out); equal to the last date for a symbol quoted today."""
    prices = analysis.prices
    col = len(prices.dates) - 1
    if prices.last_quote is None:
        last = np.where(prices.first_valid <= col, np.minimum(prices.last_valid, col), -1)
    else:
        last = prices.last_quote[:, col]
    days = prices.dates.astype("datetime64[D]")
    return {s: days[i].item() for s, i in zip(prices.symbols, last) if i >= 0}


def stale_today(analysis: Analysis) -> frozenset[str]:
    """Symbols that are stale today (no real quote for more than ``stale_quote_days``)."""
    stale = analysis.prices.stale(days=-1)
    return frozenset(s for s, st in zip(analysis.symbols, stale) if st and s != "CASH")


def ranks_today(analysis: Analysis) -> dict[str, int]:
    """Symbol -> today's rank (1 = best) from an :class:`Analysis`."""
    return {s: int(r) for s, r in zip(analysis.symbols, analysis.rank_today)}


def value_holdings(
    holdings: Holdings,
    prices: Mapping[str, float],
    *,
    date: dt.date,
    ranks: Mapping[str, int] | None = None,
    quote_dates: Mapping[str, dt.date] | None = None,
    stale: Collection[str] = (),
) -> PortfolioValue:
    """Value ``holdings`` at ``prices`` (symbol -> last real quote) on ``date``.

    Returns a :class:`PortfolioValue` with one :class:`Position` per lot.  A
    symbol missing from ``prices`` is valued at its buy price, flagged
    ``quoted=False`` without a quote date ("not quoted") and logged.  With
    ``quote_dates`` (symbol -> date of that quote; a symbol it lacks counts as
    quoted today) a symbol whose quote is older than ``date`` is flagged
    ``quoted=False`` with that date; ``stale``
    names the symbols that are stale today.  ``ranks`` fills the rank column.
    """
    ranks = ranks or {}
    rows: list[Position] = []
    for sym, sh, bp in zip(holdings.symbols, holdings.shares, holdings.buy_prices):
        if sym == "CASH":
            rows.append(Position(sym, sh, 1.0, 1.0, True, None))
            continue
        price = prices.get(sym)
        has = price is not None and math.isfinite(price) and price > 0
        qdate = (quote_dates or {}).get(sym) if has else None
        quoted = has and (qdate is None or qdate == date)
        if not has:
            log.warning("held symbol %s has no quote at all; valued at its buy price %.2f",
                        sym, bp)
            price = bp
        elif not quoted:
            log.warning("held symbol %s has no quote for %s; valued at its last quote %.2f "
                        "of %s", sym, date, price, qdate)
        rows.append(Position(sym, sh, bp, float(price), quoted, ranks.get(sym),
                             quote_date=qdate, stale=has and sym in stale))
    total = sum(p.value for p in rows)
    rows = [dataclasses.replace(p, weight=p.value / total if total > 0 else 0.0) for p in rows]
    return PortfolioValue(
        date=date,
        positions=tuple(rows),
        cumulative_cash_in=holdings.cumulative_cash_in,
        first_trade_date=holdings.first_trade_date,
    )
