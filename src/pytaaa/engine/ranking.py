"""Ranking and portfolio weights (``pipeline.md`` section 6).

Reads the despiked prices and the held signal; sets the rolling Sharpe score,
the target weights of every day (top K eligible symbols, Sharpe-proportional,
clipped and renormalized; CASH holds the rest), the ranks and today's picks.
Everything on day t uses data up to day t only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pytaaa._blocks import blocks
from pytaaa.engine.indicators import move
from pytaaa.model import Pick, Prices

__all__ = ["rolling_sharpe", "target_weights", "ranks", "todays_picks"]

TRADING_DAYS = 252
SP500_CASH_YEARS = (np.datetime64("2000-01-01"), np.datetime64("2003-01-01"))


def rolling_sharpe(prices: Prices, long_period: int, days: np.ndarray | None = None
                   ) -> np.ndarray:
    """Annualized Sharpe of the last ``L + 1`` daily returns of D, ``(N, T)``.

    A return counts only between two real quotes on consecutive days
    (``data-quality.md`` section 1: a gap makes neither a fake trend nor a fake
    calm stretch).  The score is 0 before day L, for CASH, for a zero std, and
    with fewer than L/2 valid returns.  ``days`` (indices) keeps only those
    columns, ``(N, len(days))``: the same values, without the ``(N, T)`` result.
    """
    d = prices.despiked
    n, t = d.shape
    L = int(long_period)
    w = L + 1
    min_count = max(2, math.ceil(L / 2))
    quoted = prices.quoted_mask()
    keep = np.arange(t) if days is None else np.asarray(days, dtype=np.int64)
    score = np.empty((n, t)) if days is None else np.empty((n, keep.size))
    for b in blocks(n, t):  # rows are independent: block-sized temporaries
        ret = np.full((b.stop - b.start, t), np.nan)
        if t > 1:
            ret[:, 1:] = d[b, 1:] / d[b, :-1] - 1.0
        valid = np.zeros(ret.shape, dtype=bool)
        valid[:, 1:] = quoted[b, 1:] & quoted[b, :-1]
        ret[~valid] = np.nan
        mean = move("mean", ret, w, min_count, axis=1)
        std = move("std", ret, w, min_count, axis=1, ddof=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            sc = mean / std * math.sqrt(TRADING_DAYS)
        sc[~np.isfinite(sc)] = 0.0
        sc[std <= 1e-12] = 0.0
        score[b] = sc if days is None else sc[:, keep]
    score[:, keep < L] = 0.0
    score[prices.symbols.index("CASH")] = 0.0
    return score


def target_weights(score: np.ndarray, held: np.ndarray, prices: Prices, v: Any,
                   days: np.ndarray | None = None) -> np.ndarray:
    """Target weights for every day, ``(N, T)``; each column sums to 1.

    Eligible rows have ``held == 1`` and are tradable that day.  The top
    ``numberStocksTraded`` eligible rows by score are picked (ties: symbol
    order); raw weights are proportional to score (equal when the scores do
    not sum above 0), clipped to ``[min_weight_factor/n, min(max_weight_factor/n,
    absolute_max_weight)]`` and renormalized.  No eligible row, or ``SP500`` in
    2000-2002, means 100 % CASH.  With ``days`` (indices), ``score`` and
    ``held`` hold those days' columns and so does the result: each day's
    weights depend on that day only.
    """
    n, t = score.shape
    cash = prices.symbols.index("CASH")
    k = int(v.numberStocksTraded)
    tradable = prices.tradable()
    dates = prices.dates
    if days is not None:
        tradable, dates = tradable[:, days], dates[days]
    sp500_cash = np.zeros(t, dtype=bool)
    if v.stockList == "SP500":
        lo, hi = SP500_CASH_YEARS
        sp500_cash = (dates >= lo) & (dates < hi)
    weights = np.zeros((n, t))
    for b in blocks(t, n):  # days are independent: block-sized temporaries
        eligible = (held[:, b] == 1) & tradable[:, b]
        eligible[cash] = False
        eligible[:, sp500_cash[b]] = False
        sc = score[:, b]
        masked = np.where(eligible, sc, -np.inf)
        # the best k by score, ties in symbol order: a stable sort's first k rows
        order = _first_k_stable(np.ascontiguousarray(-masked.T), k).T  # (k, days)
        cols = np.arange(b.stop - b.start)
        chosen_ok = eligible[order, cols[None, :]]  # (k, days)
        chosen_score = np.where(chosen_ok, sc[order, cols[None, :]], 0.0)
        n_picks = chosen_ok.sum(axis=0)
        total = chosen_score.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            raw = np.where(total > 0, chosen_score / total, 1.0 / np.maximum(n_picks, 1))
            nn = np.maximum(n_picks, 1).astype(np.float64)
            lower = float(v.min_weight_factor) / nn
            upper = np.minimum(float(v.max_weight_factor) / nn, float(v.absolute_max_weight))
            clipped = np.clip(raw, lower, np.maximum(upper, lower))
            clipped = np.where(chosen_ok, clipped, 0.0)
            s = clipped.sum(axis=0)
            final = np.where(s > 0, clipped / np.where(s > 0, s, 1.0), 0.0)
        wb = weights[:, b]  # a view: the block's columns of the result
        wb[order, np.broadcast_to(cols, order.shape)] = final
        wb[cash] = np.where(n_picks > 0, 0.0, 1.0)
    return weights


def _first_k_stable(key: np.ndarray, k: int) -> np.ndarray:
    """``np.argsort(key, axis=1, kind="stable")[:, :k]`` without the full sort.

    ``key`` is ``(C, N)`` with no NaN.  The k-th smallest value of each row
    splits it: every smaller entry is taken, then the entries equal to it in
    index order until there are k; only those k are sorted (stably, so ties
    stay in index order).  Returns ``(C, min(k, N))`` indices.
    """
    c, n = key.shape
    k = min(int(k), n)
    if k <= 0:
        return np.empty((c, 0), dtype=np.intp)
    kth = np.partition(key, k - 1, axis=1)[:, k - 1 : k]
    below = key < kth
    equal = key == kth
    need = k - below.sum(axis=1, keepdims=True)
    take = below | (equal & (np.cumsum(equal, axis=1) <= need))
    idx = np.nonzero(take)[1].reshape(c, k)  # k per row, in index order
    order = np.argsort(np.take_along_axis(key, idx, axis=1), axis=1, kind="stable")
    return np.take_along_axis(idx, order, axis=1)


def ranks(score: np.ndarray, active: np.ndarray, col: int, cash: int) -> np.ndarray:
    """``(N,)`` ranks on day ``col``: 1 = best score among active non-CASH symbols
    (ties by symbol order); inactive symbols and CASH follow, in symbol order."""
    s = np.where(active[:, col], score[:, col], -np.inf)
    s[cash] = -np.inf
    order = np.argsort(-s, kind="stable")
    out = np.empty(len(s), dtype=np.int64)
    out[order] = np.arange(1, len(s) + 1)
    return out


def todays_picks(weights: np.ndarray, score: np.ndarray, prices: Prices,
                 rank_today: np.ndarray) -> tuple[Pick, ...]:
    """The last day's non-zero weights as picks, best rank first, priced at today's P.

    A pick without a real quote today keeps its place (``quoted=False``) with
    its last real quote as price and that quote's date as ``quote_date``."""
    col = weights.shape[1] - 1
    quoted = prices.quoted_mask()[:, col]
    last_quote = (prices.last_quote[:, col] if prices.last_quote is not None
                  else np.where(quoted, col, -1))
    picks = [
        Pick(
            symbol=prices.symbols[i],
            weight=float(weights[i, col]),
            price=float(prices.close[i, col]),
            rank=int(rank_today[i]),
            score=float(score[i, col]),
            quote_date=(prices.dates[last_quote[i]].astype("datetime64[D]").item()
                        if last_quote[i] >= 0 else None),
            quoted=bool(quoted[i]) or prices.symbols[i] == "CASH",
        )
        for i in np.flatnonzero(weights[:, col] > 0)
    ]
    picks.sort(key=lambda p: (p.symbol == "CASH", p.rank))
    return tuple(picks)
