"""Choosing a model each month, without look-ahead (``spec/models.md`` section 2).

Pure numpy over all models at once; nothing here reads or writes files.

- :class:`ModelSeries`: the models' values on one date axis (``(M, T)``, NaN
  before a model's first value: a model that starts later is *absent*, never
  flat), names sorted alphabetically so that index order is the tie order.
- :func:`decision_days`: the last trading day of each month (or every day).
- :func:`window_metrics`: the five metrics over the ``L`` values ending on each
  decision day — annualized return ``(v_end/v_start)^(252/n) - 1`` with ``n =
  L - 1`` daily returns, Sharpe (annualized return / (population std of the
  daily returns · √252), 0 for a zero std), Sortino (annualized return /
  (downside deviation · √252), 1.0 when no day is negative), max drawdown and
  mean drawdown (both ≤ 0).  Higher is better for all five.
- :func:`score_lookbacks`: ranks per (lookback, metric) among the models that
  exist over the longest lookback (0 = best, ties share the best rank), score =
  mean of ``rank × weight``, lowest score wins, ties to the alphabetically
  first name; cash until the longest lookback is available.  The decision at
  the close of day t earns from day t+1; the switching portfolio starts at
  10,000 in cash.  This is the function the lookback search reuses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pytaaa.models.settings import METRICS

__all__ = [
    "CASH_VALUE",
    "ModelSeries",
    "Selection",
    "align_series",
    "decision_days",
    "window_metrics",
    "series_metrics",
    "rank_scores",
    "score_lookbacks",
]

#: The constant value of the cash model and the switching portfolio's start.
CASH_VALUE = 10_000.0
_DAYS_PER_YEAR = 252.0
#: Elements per chunk of the (models, days, lookback) windows (memory bound).
_CHUNK_ELEMENTS = 2_000_000


@dataclass(frozen=True)
class ModelSeries:
    """The models' values on one date axis.

    ``names`` sorted alphabetically (the tie order); ``dates`` ``(T,)``
    datetime64[D], increasing; ``values`` ``(M, T)`` float64, NaN before each
    model's first value and positive after it.
    """

    names: tuple[str, ...]
    dates: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        if self.values.shape != (len(self.names), len(self.dates)):
            raise ValueError(f"values have shape {self.values.shape}, expected "
                             f"({len(self.names)}, {len(self.dates)})")
        if list(self.names) != sorted(self.names):
            raise ValueError("model names must be sorted alphabetically")

    def first_index(self) -> np.ndarray:
        """``(M,)`` int: each model's first day with a value (T if none)."""
        ok = np.isfinite(self.values)
        return np.where(ok.any(axis=1), ok.argmax(axis=1), len(self.dates))


@dataclass(frozen=True)
class Selection:
    """The outcome of :func:`score_lookbacks`.

    - ``days``: ``(D,)`` int, the decision days (indices into ``series.dates``).
    - ``choice``: ``(D,)`` int, the model chosen at the close of each decision day.
    - ``scores``: ``(M, D)`` float, the weighted mean rank (NaN: not a candidate).
    - ``held``: ``(T,)`` int, the model in force on each day (chosen at the last
      decision day strictly before it; cash before the first one).
    - ``values``: ``(T,)`` the switching portfolio from 10,000.
    - ``cash``: index of the cash model.
    """

    series: ModelSeries
    lookbacks: tuple[int, ...]
    days: np.ndarray
    choice: np.ndarray
    scores: np.ndarray
    held: np.ndarray
    values: np.ndarray
    cash: int

    def chosen_names(self) -> list[str]:
        return [self.series.names[i] for i in self.choice]


def align_series(named: Mapping[str, tuple[np.ndarray, np.ndarray]], *,
                 cash: str = "cash") -> ModelSeries:
    """Put each model's ``(dates, values)`` on the union of their dates.

    A day a model has no row after its first value carries its last value
    forward (never a later one); before its first value it is NaN.  ``cash``
    (constant :data:`CASH_VALUE`) is added on every date.  Raises
    ``ValueError`` when no model has a value.
    """
    items = {n: (np.asarray(d, dtype="datetime64[D]"), np.asarray(v, dtype=np.float64))
             for n, (d, v) in named.items() if n != cash and len(d)}
    if not items:
        raise ValueError("no model has any value")
    dates = np.unique(np.concatenate([d for d, _v in items.values()]))
    names = tuple(sorted({*items, cash}))
    values = np.full((len(names), len(dates)), np.nan)
    for i, name in enumerate(names):
        if name == cash:
            values[i] = CASH_VALUE
            continue
        d, v = items[name]
        row = np.full(len(dates), np.nan)
        row[np.searchsorted(dates, d)] = v
        ok = np.isfinite(row)
        idx = np.maximum.accumulate(np.where(ok, np.arange(len(dates)), 0))
        filled = row[idx]
        filled[: ok.argmax() if ok.any() else len(dates)] = np.nan
        values[i] = filled
    return ModelSeries(names, dates, values)


def decision_days(dates: np.ndarray, frequency: str = "monthly") -> np.ndarray:
    """Indices of the decision days: the last date of each month present in
    ``dates`` except the final date (whose month may not be over), or every
    day but the last for ``"daily"``."""
    n = len(dates)
    if n < 2:
        return np.zeros(0, dtype=np.int64)
    if frequency == "daily":
        return np.arange(n - 1)
    months = np.asarray(dates, dtype="datetime64[M]")
    return np.flatnonzero(months[:-1] != months[1:])


def _metrics_chunk(win: np.ndarray, n_returns: int) -> np.ndarray:
    """Five metrics ``(5, M, C)`` for windows ``(M, C, L)``."""
    start, end = win[..., 0], win[..., -1]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ann = (end / start) ** (_DAYS_PER_YEAR / n_returns) - 1.0
        rets = win[..., 1:] / win[..., :-1] - 1.0
        std = rets.std(axis=-1)
        sharpe = np.where(std > 0, ann / (std * np.sqrt(_DAYS_PER_YEAR)), 0.0)
        down = np.minimum(rets, 0.0)
        dd_dev = np.sqrt((down * down).mean(axis=-1))
        sortino = np.where(dd_dev > 0, ann / (dd_dev * np.sqrt(_DAYS_PER_YEAR)), 1.0)
        draw = win / np.maximum.accumulate(win, axis=-1) - 1.0
    out = np.stack([ann, sharpe, sortino, draw.min(axis=-1), draw.mean(axis=-1)])
    return np.where(np.isfinite(start) & np.isfinite(end), out, np.nan)


def series_metrics(values: np.ndarray) -> np.ndarray:
    """The five metrics ``(5,)`` (order of :data:`~pytaaa.models.settings.METRICS`)
    of one value series ``(n,)`` taken as a single window (n >= 2)."""
    v = np.asarray(values, dtype=np.float64)
    return _metrics_chunk(v[None, None, :], len(v) - 1)[:, 0, 0]


def window_metrics(values: np.ndarray, days: np.ndarray, lookback: int) -> np.ndarray:
    """The five metrics (order of :data:`~pytaaa.models.settings.METRICS`) of each
    model over the ``lookback`` values ending on each of ``days``.

    Reads ``values`` ``(M, T)`` and ``days`` ``(D,)`` int; returns ``(5, M, D)``,
    NaN where the window starts before day 0 or before the model's first value.
    Raises ``ValueError`` for a lookback under 3.
    """
    if lookback < 3:
        raise ValueError(f"lookback must be at least 3 days, got {lookback}")
    m, t = values.shape
    days = np.asarray(days, dtype=np.int64)
    out = np.full((len(METRICS), m, len(days)), np.nan)
    ok = days >= lookback - 1
    if t < lookback or not ok.any():
        return out
    windows = np.lib.stride_tricks.sliding_window_view(values, lookback, axis=1)
    starts = days[ok] - (lookback - 1)
    cols = np.flatnonzero(ok)
    step = max(1, _CHUNK_ELEMENTS // max(1, m * lookback))
    for k in range(0, len(starts), step):
        sl = slice(k, k + step)
        out[:, :, cols[sl]] = _metrics_chunk(windows[:, starts[sl], :], lookback - 1)
    return out


def rank_scores(metrics: np.ndarray, weights: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Ranks and scores from ``metrics`` ``(K, 5, M, D)`` (K lookbacks).

    A model takes part on a day only when every metric of every lookback is
    known.  Rank per (lookback, metric, day) = the number of taking-part models
    with a strictly higher value (0 = best; ties share it).  Returns ``ranks``
    ``(K, 5, M, D)`` float (NaN when not taking part) and ``scores`` ``(M, D)``
    = mean over lookbacks and metrics of ``rank × weight`` (NaN likewise).
    """
    w = np.asarray(weights, dtype=np.float64)
    part = np.isfinite(metrics).all(axis=(0, 1))  # (M, D)
    vals = np.where(part[None, None], metrics, -np.inf)
    better = (vals[:, :, None, :, :] > vals[:, :, :, None, :]) & part[None, None, None]
    ranks = better.sum(axis=3).astype(np.float64)  # (K, 5, M, D)
    ranks[:, :, ~part] = np.nan
    scores = (ranks * w[None, :, None, None]).mean(axis=(0, 1))
    return ranks, scores


def score_lookbacks(series: ModelSeries, lookbacks: Sequence[int],
                    weights: Sequence[float] | Mapping[str, float] | None = None,
                    *, frequency: str = "monthly", cash: str = "cash",
                    days: np.ndarray | None = None,
                    metrics: np.ndarray | None = None) -> Selection:
    """The model-switching rule for ``lookbacks`` on precomputed model series.

    Reads ``series`` (with a ``cash`` row), the lookbacks (days), the five
    metric weights (a sequence in :data:`METRICS` order, a mapping by metric
    name, or None for 1.0 each) and the decision frequency (or explicit
    decision ``days``); ``metrics`` may pass the lookbacks' window metrics
    ``(K, 5, M, D)`` already computed for those days (the lookback search
    precomputes them once per lookback).  Returns a :class:`Selection`; deterministic and free of
    look-ahead: the choice at day t and the portfolio up to day t depend only
    on values up to day t.  Raises ``ValueError`` for an empty or too short
    lookback or a series without the cash model.
    """
    if not lookbacks:
        raise ValueError("at least one lookback is needed")
    if cash not in series.names:
        raise ValueError(f"the series have no cash model {cash!r}")
    if weights is None:
        w = [1.0] * len(METRICS)
    elif isinstance(weights, Mapping):
        w = [float(weights.get(k, 1.0)) for k in METRICS]
    else:
        w = [float(x) for x in weights]
    ci = series.names.index(cash)
    t_len = len(series.dates)
    d = decision_days(series.dates, frequency) if days is None else np.asarray(days, np.int64)
    if metrics is None:
        metrics = np.stack([window_metrics(series.values, d, int(lb)) for lb in lookbacks])
    _ranks, scores = rank_scores(metrics, w)
    masked = np.where(np.isfinite(scores), scores, np.inf)
    choice = np.argmin(masked, axis=0) if len(d) else np.zeros(0, dtype=np.int64)
    choice = np.where(np.isfinite(masked).any(axis=0), choice, ci) if len(d) else choice
    held = np.full(t_len, ci, dtype=np.int64)
    if len(d):
        # the choice at the close of d[k] is in force on days d[k]+1 .. d[k+1]
        pos = np.searchsorted(d, np.arange(t_len), side="left") - 1
        has = pos >= 0
        held[has] = choice[pos[has]]
    values = _follow(series.values, held)
    return Selection(series, tuple(int(x) for x in lookbacks), d, choice.astype(np.int64),
                     scores, held, values, ci)


def _follow(values: np.ndarray, held: np.ndarray) -> np.ndarray:
    """The portfolio from :data:`CASH_VALUE` that earns, each day, the daily
    return of the model in force that day (``held``)."""
    t_len = values.shape[1]
    out = np.full(t_len, CASH_VALUE)
    if t_len < 2:
        return out
    t = np.arange(1, t_len)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = values[held[1:], t] / values[held[1:], t - 1]
    ratio = np.where(np.isfinite(ratio), ratio, 1.0)
    out[1:] = CASH_VALUE * np.cumprod(ratio)
    return out
