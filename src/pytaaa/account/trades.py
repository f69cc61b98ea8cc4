"""Trade suggestions (``pipeline.md`` section 9).

- :func:`value_holdings` and the other valuation names are re-exported from
  :mod:`pytaaa.account.valuation` (holdings valued at today's P).
- :func:`suggest_trades`: the trades that turn the holdings into today's picks.
- :func:`append_diagnostic`: the per-run block of ``PyTAAA_diagnostic.params``.
- :func:`update_ledger_month_end`: on the last trading day of the month after
  13:00 local time, and only when ``ledger_auto_update`` is on, append the
  suggested portfolio to ``PyTAAA_holdings.params``.

Trade rules, all in dollars at today's closes:

1. Sell every held symbol that is not picked (all its shares).
2. Target of a pick = weight × (value of the tradable holdings − fees of the plan).
3. A pick not held is bought in whole shares (rounded down) unless its target is
   under ``min_buy_dollars`` (skipped, and said why).
4. A pick already held is adjusted when the change is at least
   ``min_adjust_dollars``: buys are rounded down, sells up (capped at the
   shares held), so the plan never spends cash it does not have.
5. Each trade costs ``trade_fee``; what is left is CASH.  Fees change the
   targets, so the plan is recomputed until the number of trades is stable
   (if it flips, the plan with the most trades among those whose budget
   covers their own fees wins).  Should rounding still leave
   cash below zero, the last buys are trimmed one share at a time.

Real quotes (``data-quality.md`` sections 1 and 4): a held symbol without a
quote today is kept as it is, never sold because of the missing quote: it is
valued at its last real quote and flagged with that quote's date, or, never
quoted at all, at its buy price and flagged "not quoted".  A held symbol that
is stale (no quote for more than ``stale_quote_days``) is sold at its last real
quote (reason ``stale``).  A pick without a quote today is never newly bought
(skipped, and said why).  The order is deterministic: sells of unpicked
symbols by symbol, then reductions, then buys, both in pick order.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pytaaa._io import append_text
from pytaaa.account.ledger import Holdings, append_holdings_block
from pytaaa.account.market import month_end_update_due
from pytaaa.account.valuation import (
    PortfolioValue,
    Position,
    prices_today,
    quote_dates,
    ranks_today,
    stale_today,
    value_holdings,
)
from pytaaa.model import Pick

__all__ = [
    "DIAGNOSTIC_FILE",
    "Position",
    "PortfolioValue",
    "Trade",
    "SkippedTrade",
    "TradePlan",
    "prices_today",
    "quote_dates",
    "stale_today",
    "ranks_today",
    "value_holdings",
    "suggest_trades",
    "append_diagnostic",
    "update_ledger_month_end",
]

log = logging.getLogger(__name__)

DIAGNOSTIC_FILE = "PyTAAA_diagnostic.params"
_EPS = 1e-9


@dataclass(frozen=True)
class Trade:
    """One suggested trade.  ``reason``: exit (not picked), new (not held),
    increase or decrease (a held pick re-weighted), stale (no quote for more than
    ``stale_quote_days``: sold at its last real quote)."""

    action: Literal["SELL", "BUY"]
    symbol: str
    shares: float
    price: float
    reason: Literal["exit", "new", "increase", "decrease", "stale"]

    @property
    def amount(self) -> float:
        return self.shares * self.price


@dataclass(frozen=True)
class SkippedTrade:
    """A trade the rules left out, with the dollars involved and why."""

    symbol: str
    dollars: float
    reason: str


@dataclass(frozen=True)
class TradePlan:
    """Suggested trades and the portfolio they lead to.

    ``positions_after``: (symbol, shares, buy price) with CASH first, then the
    picks in pick order, then other kept symbols by symbol; buy prices are
    averaged on increases and kept on reductions.
    """

    trades: tuple[Trade, ...]
    skipped: tuple[SkippedTrade, ...]
    fee_per_trade: float
    cash_before: float
    cash_after: float
    total_value: float
    positions_after: tuple[tuple[str, float, float], ...] = field(default=())

    @property
    def fees(self) -> float:
        return self.fee_per_trade * len(self.trades)

    def signature(self) -> str:
        """A short text that changes when the suggested trades change (for the email)."""
        return "; ".join(f"{t.action} {t.shares:g} {t.symbol}" for t in self.trades)


# --------------------------------------------------------------------------- trades
@dataclass
class _Book:
    """Tradable holdings aggregated per symbol: shares, average buy price, price."""

    held: dict[str, tuple[float, float, float]]
    kept: list[tuple[str, float, float]]
    cash: float
    stale: frozenset[str] = frozenset()
    kept_value: dict[str, float] = field(default_factory=dict)

    @property
    def value(self) -> float:
        return self.cash + sum(sh * p for sh, _bp, p in self.held.values())


def _book(portfolio: PortfolioValue) -> _Book:
    held: dict[str, tuple[float, float, float]] = {}
    kept: dict[str, tuple[float, float]] = {}
    kept_value: dict[str, float] = {}
    cash = 0.0
    for p in portfolio.positions:
        if p.symbol == "CASH":
            cash += p.shares
        elif not p.quoted and not p.stale:
            # no quote today: kept as it is, never traded because of a missing quote
            sh0, bp0 = kept.get(p.symbol, (0.0, 0.0))
            tot = sh0 + p.shares
            kept[p.symbol] = (tot, (sh0 * bp0 + p.cost) / tot if tot > 0 else p.buy_price)
            kept_value[p.symbol] = kept_value.get(p.symbol, 0.0) + p.value
        elif p.shares > 0:
            sh0, bp0, _ = held.get(p.symbol, (0.0, 0.0, p.price))
            tot = sh0 + p.shares
            held[p.symbol] = (tot, (sh0 * bp0 + p.cost) / tot, p.price)
    stale = frozenset(p.symbol for p in portfolio.positions if p.stale and p.symbol in held)
    return _Book(held, [(s, sh, bp) for s, (sh, bp) in sorted(kept.items())], cash, stale,
                 kept_value)


def _targets(picks: Sequence[Pick], kept: Collection[str] = ()
             ) -> tuple[list[tuple[str, float, float]], list[SkippedTrade]]:
    out: list[tuple[str, float, float]] = []
    skipped: list[SkippedTrade] = []
    for p in picks:
        if p.symbol == "CASH" or p.weight <= 0 or p.symbol in kept:
            continue
        if not p.quoted:
            when = p.quote_date.isoformat() if p.quote_date else "never"
            skipped.append(SkippedTrade(
                p.symbol, 0.0, f"no quote today (last quote {when}): not bought"))
            continue
        if not (math.isfinite(p.price) and p.price > 0):
            skipped.append(SkippedTrade(p.symbol, 0.0, f"no usable price today ({p.price})"))
            continue
        out.append((p.symbol, float(p.weight), float(p.price)))
    return out, skipped


def _plan(
    book: _Book,
    targets: list[tuple[str, float, float]],
    budget: float,
    min_buy: float,
    min_adjust: float,
) -> tuple[list[Trade], list[Trade], list[SkippedTrade]]:
    """Sells and buys for targets computed from ``budget`` dollars."""
    picked = {s for s, _w, _p in targets}
    sells = [
        Trade("SELL", s, sh, price, "stale" if s in book.stale else "exit")
        for s, (sh, _bp, price) in sorted(book.held.items())
        if s not in picked
    ]
    reductions: list[Trade] = []
    buys: list[Trade] = []
    skipped: list[SkippedTrade] = []
    for sym, weight, price in targets:
        target = weight * budget
        if sym in book.held:
            sh, _bp, _ = book.held[sym]
            delta = target - sh * price
            if abs(delta) < min_adjust:
                if abs(delta) >= price:
                    skipped.append(SkippedTrade(
                        sym, abs(delta), f"adjustment ${abs(delta):,.2f} under ${min_adjust:,.2f}"))
                continue
            if delta > 0:
                n = math.floor(delta / price + _EPS)
                if n > 0:
                    buys.append(Trade("BUY", sym, float(n), price, "increase"))
            else:
                n = min(float(math.ceil(-delta / price - _EPS)), sh)
                if n > 0:
                    reductions.append(Trade("SELL", sym, n, price, "decrease"))
        else:
            if target < min_buy:
                skipped.append(SkippedTrade(
                    sym, target, f"buy ${target:,.2f} under ${min_buy:,.2f}"))
                continue
            n = math.floor(target / price + _EPS)
            if n < 1:
                skipped.append(SkippedTrade(
                    sym, target, f"one share (${price:,.2f}) costs more than ${target:,.2f}"))
                continue
            buys.append(Trade("BUY", sym, float(n), price, "new"))
    return sells + reductions, buys, skipped


def _cash_after(cash: float, trades: Sequence[Trade], fee: float) -> float:
    sold = sum(t.amount for t in trades if t.action == "SELL")
    bought = sum(t.amount for t in trades if t.action == "BUY")
    return cash + sold - bought - fee * len(trades)


def _trim_buys(cash: float, sells: list[Trade], buys: list[Trade], fee: float,
               min_buy: float = 0.0, min_adjust: float = 0.0) -> list[Trade]:
    """Cut the last buys until the cash covers them; a buy cut under its minimum
    (``min_buy`` for a new position, ``min_adjust`` for an increase) is dropped."""
    buys = list(buys)
    while buys and _cash_after(cash, sells + buys, fee) < -_EPS:
        last = buys[-1]
        deficit = -_cash_after(cash, sells + buys, fee)
        cut = min(last.shares, float(math.ceil(deficit / last.price - _EPS)))
        left = last.shares - cut
        minimum = min_buy if last.reason == "new" else min_adjust
        too_small = left * last.price < minimum - last.price
        if left < 1 or left >= last.shares or too_small:  # none left, no progress, under min
            buys.pop()
        else:
            buys[-1] = Trade("BUY", last.symbol, last.shares - cut, last.price, last.reason)
    return buys


def _positions_after(
    book: _Book, targets: list[tuple[str, float, float]], trades: Sequence[Trade], cash: float
) -> tuple[tuple[str, float, float], ...]:
    pos = {s: (sh, bp) for s, (sh, bp, _p) in book.held.items()}
    for t in trades:
        sh, bp = pos.get(t.symbol, (0.0, t.price))
        if t.action == "SELL":
            pos[t.symbol] = (sh - t.shares, bp)
        else:
            tot = sh + t.shares
            pos[t.symbol] = (tot, (sh * bp + t.amount) / tot)
    out: list[tuple[str, float, float]] = [("CASH", round(cash, 2), 1.0)]
    order = [s for s, _w, _p in targets] + sorted(pos)
    done: set[str] = set()
    for s in order:
        if s in done or s not in pos:
            continue
        done.add(s)
        sh, bp = pos[s]
        if sh > _EPS:
            out.append((s, sh, bp))
    out.extend(book.kept)
    return tuple(out)


def suggest_trades(
    portfolio: PortfolioValue,
    picks: Sequence[Pick],
    *,
    fee: float = 4.95,
    min_buy: float = 800.0,
    min_adjust: float = 400.0,
) -> TradePlan:
    """Trades that move ``portfolio`` to today's ``picks`` (rules in the module docstring).

    Reads the valued holdings and the picks (weight and today's close P);
    returns a :class:`TradePlan`.  Raises ``ValueError`` for a negative fee or
    threshold.
    """
    for name, v in (("fee", fee), ("min_buy", min_buy), ("min_adjust", min_adjust)):
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {v}")
    book = _book(portfolio)
    targets, bad = _targets(picks, {s for s, _sh, _bp in book.kept})
    # a kept pick (no quote today) stays as it is; the other picks get their
    # weight of the portfolio including it
    value = book.value + sum(v for s, v in book.kept_value.items()
                             if any(p.symbol == s for p in picks))
    n_fees = 0
    tried: dict[int, tuple[list[Trade], list[Trade], list[SkippedTrade]]] = {}
    while n_fees not in tried:
        result = _plan(book, targets, max(value - n_fees * fee, 0.0), min_buy, min_adjust)
        tried[n_fees] = result
        n_fees = len(result[0]) + len(result[1])
    count = {k: len(r[0]) + len(r[1]) for k, r in tried.items()}
    if count[n_fees] != n_fees:
        # the count flipped: keep the plans whose budget covers their own fees,
        # and of those the one with the most trades
        n_fees = max((k for k in tried if count[k] <= k), key=lambda k: (count[k], -k))
    sells, buys, skipped = tried[n_fees]
    buys = _trim_buys(book.cash, sells, buys, fee, min_buy, min_adjust)
    trades = sells + buys
    cash_after = _cash_after(book.cash, trades, fee)
    return TradePlan(
        trades=tuple(trades),
        skipped=tuple(bad + skipped),
        fee_per_trade=float(fee),
        cash_before=book.cash,
        cash_after=cash_after,
        total_value=portfolio.total,
        positions_after=_positions_after(book, targets, trades, cash_after),
    )


# --------------------------------------------------------------------------- diagnostic
def _join(values: Sequence[float], fmt: str) -> str:
    return " ".join(format(float(v), fmt) for v in values)


def _shares_text(values: Sequence[float]) -> str:
    return " ".join(str(int(v)) if float(v).is_integer() else f"{v:.4f}".rstrip("0")
                    for v in values)


def _quoted(price: float | None) -> bool:
    return price is not None and math.isfinite(price)


def append_diagnostic(
    perf_store: str | Path,
    *,
    when: dt.datetime,
    holdings: Holdings,
    prices: Mapping[str, float],
    picks: Sequence[Pick],
) -> Path:
    """Append this run's block to ``<perf_store>/PyTAAA_diagnostic.params`` (atomically).

    The block has the held stocks, shares, buy prices and today's prices, then
    the new selection with its weights and prices.  A held symbol without a
    finite quote today gets price 0.00 and is named on a ``held_unquoted:``
    line (no ``nan`` in the file).  Returns the file's path;
    raises ``OSError`` when it cannot be written.
    """
    path = Path(perf_store) / DIAGNOSTIC_FILE
    unquoted = [s for s in holdings.symbols if s != "CASH" and not _quoted(prices.get(s))]
    held_prices = [1.0 if s == "CASH" else (prices[s] if s not in unquoted else 0.0)
                   for s in holdings.symbols]
    lines = [
        "",
        f"diagnostic_time: {when:%Y-%m-%d %H:%M:%S}",
        f"held_stocks: {' '.join(holdings.symbols)}",
        f"held_shares: {_shares_text(holdings.shares)}",
        f"held_buyprice: {_join(holdings.buy_prices, '.2f')}",
        f"held_price: {_join(held_prices, '.2f')}",
        *([f"held_unquoted: {' '.join(dict.fromkeys(unquoted))}"] if unquoted else []),
        f"new_stocks: {' '.join(p.symbol for p in picks)}",
        f"new_weights: {_join([p.weight for p in picks], '.4f')}",
        f"new_prices: {_join([p.price for p in picks], '.2f')}",
        "",
    ]
    append_text(path, "\n".join(lines))
    return path


# --------------------------------------------------------------------------- ledger
def update_ledger_month_end(
    holdings_path: str | Path,
    holdings: Holdings,
    plan: TradePlan,
    *,
    enabled: bool,
    now: dt.datetime,
) -> bool:
    """Append the suggested portfolio as a new holdings block at month end.

    Appends ``plan.positions_after`` (with ``holdings.cumulative_cash_in``) to
    the ledger at ``holdings_path`` with today's date as ``TradeDate`` only when
    ``enabled`` (config ``ledger_auto_update``), ``now`` is on the last
    trading day of the month (NYSE calendar) at or after 13:00 local time,
    and the ledger has no block for that day yet.  Returns True when a block
    was appended.  Raises ``HoldingsError`` for a missing or malformed ledger
    and ``OSError`` when it cannot be written.
    """
    if not enabled:
        return False
    if not month_end_update_due(now):
        return False
    local = now.astimezone() if now.tzinfo is not None else now
    return append_holdings_block(holdings_path, local.date(), plan.positions_after,
                                 holdings.cumulative_cash_in)
