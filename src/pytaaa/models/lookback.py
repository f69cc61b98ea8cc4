"""Lookback search for the model-switching account (``spec/models.md`` section 5).

Three integer lookbacks in [``monte_carlo.min_lookback``, ``max_lookback``]
are searched: random exploration first, then refinement around the best so
far (the original's explore/exploit), ``monte_carlo.max_iterations``
iterations.  Each iteration runs the switching rule itself
(:func:`pytaaa.models.switching.score_lookbacks`) and scores the switching
portfolio by its *normalized score*: the mean over the five metrics of
``(raw - central) / std`` (``model_selection.normalization``), measured over
the whole history — or, when ``metric_blending.enabled``, blended over the
whole history and one or two focus periods by their weights.  (The
original's single-focus-period mode read a wrong key and scored every
iteration 0.)  Higher is better.

What does not depend on the iteration is computed once (:class:`LookbackScorer`):
the decision days and every model's window metrics for every lookback in the
range.  The search draws from one seeded stream and evaluates iterations in
order, so a seed always gives the same rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
)

from pytaaa.config import _problems
from pytaaa.models.settings import METRICS, SwitchingConfigError, SwitchingSettings
from pytaaa.models.switching import (
    CASH_VALUE,
    ModelSeries,
    Selection,
    decision_days,
    score_lookbacks,
    series_metrics,
    window_metrics,
)

__all__ = ["FocusPeriod", "SearchSettings", "read_search_settings", "LookbackScorer", "BestRow",
           "run_lookback_search"]

Number = StrictFloat | StrictInt


class _Period(BaseModel):
    model_config = ConfigDict(strict=False, frozen=True, extra="forbid")
    start: dt.date
    end: dt.date
    weight: Number = Field(default=1.0, ge=0)


class _Blending(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="allow")
    enabled: StrictBool = False
    full_period_weight: Number = Field(default=1.0, ge=0)
    focus_periods: list[_Period] = Field(default_factory=list, max_length=2)


class _Search(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="allow")
    min_lookback: StrictInt = Field(default=20, ge=3)
    max_lookback: StrictInt = Field(default=300, ge=4)
    max_iterations: StrictInt = Field(default=50_000, ge=1)
    explore_fraction: Number = Field(default=0.5, gt=0, le=1)


@dataclass(frozen=True)
class FocusPeriod:
    """A period the score is measured over: ``label`` (``full``, ``focus1``,
    ``focus2``), first and last date (None: the history's ends), weight."""

    label: str
    start: dt.date | None
    end: dt.date | None
    weight: float


@dataclass(frozen=True)
class SearchSettings:
    """The lookback search's settings (see :func:`read_search_settings`)."""

    min_lookback: int = 20
    max_lookback: int = 300
    iterations: int = 50_000
    explore_fraction: float = 0.5
    periods: tuple[FocusPeriod, ...] = (FocusPeriod("full", None, None, 1.0),)

    @property
    def blended(self) -> bool:
        return len(self.periods) > 1


def read_search_settings(raw: dict[str, Any], path: Any) -> SearchSettings:
    """The search settings of a switching config's JSON ``raw``.

    ``monte_carlo``: ``min_lookback`` (20), ``max_lookback`` (300),
    ``max_iterations`` (50,000), ``explore_fraction`` (0.5);
    ``metric_blending``: ``{"enabled": true, "full_period_weight": 1.0,
    "focus_periods": [{"start": "YYYY-MM-DD", "end": "YYYY-MM-DD", "weight": 1.0}]}``
    (one or two periods).  Raises :class:`SwitchingConfigError`, one line per
    problem (``path`` names the file).
    """
    problems: list[str] = []
    mc_raw = raw.get("monte_carlo", {})
    bl_raw = raw.get("metric_blending", {})
    search = blend = None
    for key, data, schema in (("monte_carlo", mc_raw, _Search), ("metric_blending", bl_raw, _Blending)):
        if not isinstance(data, dict):
            problems.append(f"{key}: expected a JSON object")
            continue
        try:
            obj = schema.model_validate(data)
        except ValidationError as err:
            problems += _problems(key, err, data)
            continue
        if key == "monte_carlo":
            search = obj
        else:
            blend = obj
    if search is not None and search.max_lookback - search.min_lookback < 3:
        problems.append(f"monte_carlo: max_lookback ({search.max_lookback}) must exceed "
                        f"min_lookback ({search.min_lookback}) by at least 3")
    if blend is not None and blend.enabled and not blend.focus_periods:
        problems.append("metric_blending.focus_periods: enabled blending needs one or two periods")
    for i, p in enumerate(blend.focus_periods if blend is not None else []):
        if p.end <= p.start:
            problems.append(f"metric_blending.focus_periods.{i}: end {p.end} is not after start "
                            f"{p.start}")
    if problems or search is None or blend is None:
        raise SwitchingConfigError(path, problems)
    periods = [FocusPeriod("full", None, None, float(blend.full_period_weight) if blend.enabled
                           else 1.0)]
    if blend.enabled:
        periods += [FocusPeriod(f"focus{i + 1}", p.start, p.end, float(p.weight))
                    for i, p in enumerate(blend.focus_periods)]
    if sum(p.weight for p in periods) <= 0:
        raise SwitchingConfigError(path, ["metric_blending: the weights add up to 0"])
    return SearchSettings(search.min_lookback, search.max_lookback, search.max_iterations,
                          float(search.explore_fraction), tuple(periods))


@dataclass(frozen=True)
class Evaluation:
    """One scored lookback triple: the blended ``score`` and, per period label,
    the five raw metrics of the switching portfolio and its normalized score."""

    lookbacks: tuple[int, ...]
    score: float
    metrics: dict[str, tuple[float, ...]]
    normalized: dict[str, float]


class LookbackScorer:
    """Scores lookback triples on fixed model series (the precomputed part).

    ``series``/``settings``: the models and the switching settings (weights,
    normalization, decision frequency, cash); ``search``: the range and the
    periods.  Raises ``ValueError`` when a focus period has fewer than 20
    trading days inside the history.
    """

    def __init__(self, series: ModelSeries, settings: SwitchingSettings,
                 search: SearchSettings) -> None:
        self.series = series
        self.search = search
        self.cash = next((m.name for m in settings.models if m.kind == "cash"), "cash")
        self.weights = [settings.weights[m] for m in METRICS]
        self.central = np.array([settings.central_values[m] for m in METRICS])
        self.std = np.array([settings.std_values[m] for m in METRICS])
        self.days = decision_days(series.dates, settings.trading_frequency)
        self.lo, self.hi = search.min_lookback, search.max_lookback
        self._metrics = np.stack([window_metrics(series.values, self.days, lb)
                                  for lb in range(self.lo, self.hi + 1)])  # (nL, 5, M, D)
        self._precompute()
        t = len(series.dates)
        dates = np.asarray(series.dates, dtype="datetime64[D]")
        self.spans: list[tuple[str, int, int, float]] = []
        for p in search.periods:
            a = 0 if p.start is None else int(np.searchsorted(dates, np.datetime64(p.start, "D")))
            b = t - 1 if p.end is None else int(np.searchsorted(dates, np.datetime64(p.end, "D"),
                                                                side="right")) - 1
            if b - a < 20:
                raise ValueError(f"metric_blending: {p.label} ({p.start} .. {p.end}) has "
                                 f"{max(0, b - a + 1)} trading days in the history; expected 21 or more")
            self.spans.append((p.label, a, b, p.weight))

    def _precompute(self) -> None:
        """What every iteration shares: per lookback, which models take part on
        each decision day and the weighted pairwise "b beats a" counts; the
        models' daily value ratios; which decision is in force each day."""
        mets = self._metrics
        self._part = np.isfinite(mets).all(axis=1)  # (nL, M, D)
        w = np.asarray(self.weights, dtype=np.float64)
        nl, _, m, d = mets.shape
        beats = np.zeros((nl, m, m, d))  # [L, a, b, day] = sum_k w_k [metric_k(b) > metric_k(a)]
        with np.errstate(invalid="ignore"):
            for k in range(mets.shape[1]):
                beats += w[k] * (mets[:, k, None, :, :] > mets[:, k, :, None, :])
        self._beats = beats
        vals = self.series.values
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = vals[:, 1:] / vals[:, :-1]
        self._ratio = np.where(np.isfinite(ratio), ratio, 1.0)
        t = vals.shape[1]
        self._pos = np.searchsorted(self.days, np.arange(t), side="left") - 1
        self._ci = self.series.names.index(self.cash)

    def fast_values(self, lookbacks: tuple[int, ...]) -> np.ndarray:
        """The switching portfolio of ``lookbacks`` (in range) from the
        precomputed parts: the same rule as :meth:`selection`, for the search."""
        idx = [lb - self.lo for lb in lookbacks]
        part = self._part[max(idx)]  # known at the longest lookback -> known at all
        total = self._beats[idx].sum(axis=0)  # (M, M, D)
        scores = (total * part[None, :, :]).sum(axis=1) / (len(idx) * len(METRICS))
        masked = np.where(part, scores, np.inf)
        choice = np.argmin(masked, axis=0)
        choice = np.where(part.any(axis=0), choice, self._ci)
        pos = self._pos
        held = np.where(pos >= 0, choice[np.maximum(pos, 0)], self._ci) if len(choice) else \
            np.full(len(pos), self._ci)
        out = np.full(len(pos), CASH_VALUE)
        if len(pos) > 1:
            out[1:] = CASH_VALUE * np.cumprod(self._ratio[held[1:], np.arange(len(pos) - 1)])
        return out

    def selection(self, lookbacks: tuple[int, ...]) -> Selection:
        """The switching rule for ``lookbacks`` (precomputed metrics when in range)."""
        inside = all(self.lo <= lb <= self.hi for lb in lookbacks)
        pre = self._metrics[[lb - self.lo for lb in lookbacks]] if inside else None
        return score_lookbacks(self.series, lookbacks, self.weights, cash=self.cash,
                               days=self.days, metrics=pre)

    def evaluate(self, lookbacks: tuple[int, ...], *, exact: bool = False) -> Evaluation:
        """Score ``lookbacks``: the switching portfolio's normalized score per
        period, blended by the periods' weights.  ``exact`` runs the switching
        rule itself (:meth:`selection`) instead of the precomputed fast path."""
        inside = all(self.lo <= lb <= self.hi for lb in lookbacks)
        values = (self.fast_values(lookbacks) if inside and not exact
                  else self.selection(lookbacks).values)
        metrics: dict[str, tuple[float, ...]] = {}
        normalized: dict[str, float] = {}
        total = weight = 0.0
        for label, a, b, w in self.spans:
            m = series_metrics(values[a:b + 1])
            m = np.nan_to_num(m, nan=0.0, posinf=0.0, neginf=0.0)
            norm = float(np.mean((m - self.central) / self.std))
            metrics[label] = tuple(float(x) for x in m)
            normalized[label] = norm
            total += w * norm
            weight += w
        return Evaluation(tuple(lookbacks), total / weight, metrics, normalized)


@dataclass
class BestRow:
    """A new best of the search: the iteration that found it and its evaluation."""

    iteration: int
    evaluation: Evaluation


@dataclass
class LookbackOutcome:
    """A finished (or stopped) search: the rows (one per new best, the first is
    the configured lookbacks), iterations done, distinct triples scored."""

    rows: list[BestRow] = field(default_factory=list)
    done: int = 0
    scored: int = 0
    stopped: bool = False

    @property
    def best(self) -> BestRow:
        return self.rows[-1]


def _random_triple(rng: np.random.Generator, lo: int, hi: int) -> tuple[int, ...]:
    picks = rng.choice(hi - lo + 1, size=3, replace=False) + lo
    return tuple(sorted(int(x) for x in picks))


def run_lookback_search(scorer: LookbackScorer, start: tuple[int, ...], seed: int,
                        iterations: int | None = None, *,
                        on_best: Callable[[BestRow], None] = lambda r: None,
                        on_progress: Callable[[int], None] = lambda n: None,
                        should_stop: Callable[[], bool] = lambda: False) -> LookbackOutcome:
    """Search three lookbacks from the configured ``start`` (iteration 0).

    Iterations 1 .. n·explore_fraction draw three distinct lookbacks uniformly
    from the range; later ones move the best so far by normal steps whose
    size shrinks from 15 % of the range to 1 day (a repeated or degenerate
    triple is replaced by a uniform draw).  ``on_best`` gets each new best,
    ``on_progress(i)`` is called every 500 iterations, ``should_stop()``
    ends the search early.  Deterministic for a given seed.
    """
    s = scorer.search
    n = int(iterations if iterations is not None else s.iterations)
    rng = np.random.default_rng(np.random.SeedSequence(int(seed)))
    n_explore = max(1, int(round(n * s.explore_fraction)))
    out = LookbackOutcome()
    cache: dict[tuple[int, ...], Evaluation] = {}
    best: Evaluation | None = None
    for i in range(n):
        if i and i % 500 == 0:
            on_progress(i)
            if should_stop():
                out.stopped = True
                break
        if i == 0:
            triple = tuple(int(x) for x in start)
        elif i < n_explore or best is None:
            triple = _random_triple(rng, scorer.lo, scorer.hi)
        else:
            frac = (i - n_explore) / max(1, n - n_explore)
            scale = max(1.0, 0.15 * (scorer.hi - scorer.lo) * (1.0 - frac))
            moved = np.clip(np.rint(np.array(best.lookbacks[:3]) + rng.normal(0.0, scale, 3)),
                            scorer.lo, scorer.hi).astype(int)
            triple = tuple(sorted(set(int(x) for x in moved)))
            if len(triple) < 3:
                triple = _random_triple(rng, scorer.lo, scorer.hi)
        ev = cache.get(triple)
        if ev is None:
            ev = cache[triple] = scorer.evaluate(triple)
        if best is None or ev.score > best.score:
            best = ev
            row = BestRow(i, scorer.evaluate(triple, exact=True))
            out.rows.append(row)
            on_best(row)
        out.done = i + 1
    out.scored = len(cache)
    return out
