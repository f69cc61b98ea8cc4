"""The model-switching rule against a slow reference written here, on hand-made series."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pytaaa.models.switching import (
    CASH_VALUE,
    ModelSeries,
    align_series,
    decision_days,
    score_lookbacks,
    window_metrics,
)


# --------------------------------------------------------------------------- slow reference
def ref_metrics(window: list[float]) -> list[float]:
    n = len(window) - 1
    ann = (window[-1] / window[0]) ** (252.0 / n) - 1.0
    rets = [window[i] / window[i - 1] - 1.0 for i in range(1, len(window))]
    mean = sum(rets) / len(rets)
    std = math.sqrt(sum((r - mean) ** 2 for r in rets) / len(rets))
    sharpe = ann / (std * math.sqrt(252)) if std > 0 else 0.0
    downs = [min(r, 0.0) for r in rets]
    dd_dev = math.sqrt(sum(d * d for d in downs) / len(downs))
    sortino = ann / (dd_dev * math.sqrt(252)) if dd_dev > 0 else 1.0
    peak, draws = -math.inf, []
    for v in window:
        peak = max(peak, v)
        draws.append(v / peak - 1.0)
    return [ann, sharpe, sortino, min(draws), sum(draws) / len(draws)]


def ref_select(names, dates, values, lookbacks, weights):
    """Loop over days and models: the chosen name per decision day and the portfolio."""
    t_len = len(dates)
    months = [str(d)[:7] for d in dates]
    days = [t for t in range(t_len - 1) if months[t] != months[t + 1]]
    longest = max(lookbacks)
    choices = []
    for t in days:
        cands = [m for m in range(len(names))
                 if t - longest + 1 >= 0 and not math.isnan(values[m][t - longest + 1])]
        if not cands:
            choices.append(names.index("cash"))
            continue
        total = {m: 0.0 for m in cands}
        for lb in lookbacks:
            mets = {m: ref_metrics(list(values[m][t - lb + 1: t + 1])) for m in cands}
            for k in range(5):
                for m in cands:
                    rank = sum(1 for o in cands if mets[o][k] > mets[m][k])
                    total[m] += rank * weights[k]
        score = {m: total[m] / (5 * len(lookbacks)) for m in cands}
        best = min(cands, key=lambda m: (score[m], names[m]))
        choices.append(best)
    value, out, held = CASH_VALUE, [CASH_VALUE], names.index("cash")
    k = 0
    for t in range(1, t_len):
        while k < len(days) and days[k] < t:
            held = choices[k]
            k += 1
        value *= values[held][t] / values[held][t - 1]
        out.append(value)
    return days, [names[c] for c in choices], np.array(out)


# --------------------------------------------------------------------------- data
def weekdays(n: int, start: str = "2001-01-01") -> np.ndarray:
    d = np.arange(np.datetime64(start), np.datetime64(start) + n * 2, dtype="datetime64[D]")
    d = d[np.is_busday(d)]
    return d[:n]


def series_from(rets: dict[str, np.ndarray], starts: dict[str, int] | None = None,
                n: int = 400) -> ModelSeries:
    dates = weekdays(n)
    named = {}
    for name, r in rets.items():
        s = (starts or {}).get(name, 0)
        v = 10_000.0 * np.cumprod(1.0 + r[s:])
        named[name] = (dates[s:], v)
    return align_series(named)


def random_rets(seed: int, n: int, drift: float, vol: float) -> np.ndarray:
    return np.random.default_rng(seed).normal(drift, vol, n)


# --------------------------------------------------------------------------- tests
def test_metrics_match_the_reference_including_cash() -> None:
    s = series_from({"a": random_rets(1, 400, 0.0005, 0.01), "b": random_rets(2, 400, -0.001, 0.02)})
    days = np.array([60, 199, 399])
    got = window_metrics(s.values, days, 50)
    for m in range(len(s.names)):
        for j, t in enumerate(days):
            want = ref_metrics(list(s.values[m, t - 49: t + 1]))
            np.testing.assert_allclose(got[:, m, j], want, rtol=1e-9, atol=1e-12)
    cash = s.names.index("cash")
    assert got[:, cash, 0].tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_selection_matches_the_slow_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rets = {f"m{i}": rng.normal(rng.uniform(-0.001, 0.001), rng.uniform(0.005, 0.02), 400)
            for i in range(4)}
    s = series_from(rets, starts={"m3": 150})
    weights = [1.0, 2.0, 0.5, 1.0, 1.5]
    sel = score_lookbacks(s, (20, 60, 40), weights)
    days, names, values = ref_select(list(s.names), s.dates, s.values, [20, 40, 60], weights)
    assert sel.days.tolist() == days
    assert sel.chosen_names() == names
    np.testing.assert_allclose(sel.values, values, rtol=1e-12)


def test_one_model_dominates() -> None:
    n = 400
    good = np.full(n, 0.002) + random_rets(3, n, 0, 0.001)
    bad = random_rets(4, n, 0.0, 0.02)
    s = series_from({"good": good, "bad": bad}, n=n)
    sel = score_lookbacks(s, (20, 60), None)
    chosen = sel.chosen_names()
    late = [c for d, c in zip(sel.days, chosen) if d >= 59]
    assert late and set(late) == {"good"}
    assert all(c == "cash" for d, c in zip(sel.days, chosen) if d < 59)
    # it earns the good model's returns after the first decision it made
    first = sel.days[sel.days >= 59][0]
    g = s.values[s.names.index("good")]
    np.testing.assert_allclose(sel.values[-1] / sel.values[first + 1],
                               g[-1] / g[first + 1], rtol=1e-12)


def test_all_models_fall_means_cash() -> None:
    n = 300
    s = series_from({"x": np.full(n, -0.002), "y": np.full(n, -0.001) + random_rets(5, n, 0, 0.001)},
                    n=n)
    sel = score_lookbacks(s, (20, 50), None)
    assert set(sel.chosen_names()) == {"cash"}
    np.testing.assert_array_equal(sel.values, CASH_VALUE)


def test_ties_go_to_the_alphabetically_first_name() -> None:
    n = 300
    r = np.full(n, 0.001)
    s = series_from({"zeta": r.copy(), "alpha": r.copy()}, n=n)
    sel = score_lookbacks(s, (20,), None)
    assert set(c for d, c in zip(sel.days, sel.chosen_names()) if d >= 19) == {"alpha"}
    # a model that ties cash on every metric loses to cash ("cash" < "zz")
    flat = align_series({"zz": (s.dates, np.full(n, 5000.0))})
    assert set(score_lookbacks(flat, (20,), None).chosen_names()) == {"cash"}


def test_late_model_is_never_chosen_before_it_starts() -> None:
    n = 500
    rets = {"early": random_rets(6, n, 0.0, 0.01), "late": np.full(n, 0.003)}
    s = series_from(rets, starts={"late": 250}, n=n)
    assert np.isnan(s.values[s.names.index("late"), :250]).all()
    sel = score_lookbacks(s, (20, 40), None)
    li = s.names.index("late")
    assert (sel.choice[sel.days < 250 + 39] != li).all()
    assert (sel.held[: 250 + 40] != li).all()
    assert (sel.choice[sel.days >= 250 + 39] == li).any()


@pytest.mark.parametrize("frequency", ["monthly", "daily"])
def test_no_look_ahead(frequency: str) -> None:
    rng = np.random.default_rng(7)
    n = 400
    rets = {f"m{i}": rng.normal(0.0003 * i, 0.01, n) for i in range(3)}
    s = series_from(rets, n=n)
    base = score_lookbacks(s, (20, 45), None, frequency=frequency)
    for t in (100, 211, 350):
        for m in range(len(s.names)):
            if s.names[m] == "cash":
                continue
            v = s.values.copy()
            v[m, t + 1:] *= np.exp(rng.normal(0, 0.2, n - t - 1))
            other = score_lookbacks(ModelSeries(s.names, s.dates, v), (20, 45), None,
                                    frequency=frequency)
            keep = base.days <= t
            np.testing.assert_array_equal(other.choice[keep], base.choice[keep])
            np.testing.assert_array_equal(other.values[: t + 1], base.values[: t + 1])
            np.testing.assert_array_equal(other.held[: t + 2], base.held[: t + 2])


def test_decisions_at_month_ends_earn_from_the_next_day() -> None:
    dates = weekdays(70)
    days = decision_days(dates)
    months = dates.astype("datetime64[M]")
    assert all(months[d] != months[d + 1] for d in days)
    assert len(days) == len(set(months.tolist())) - 1
    s = series_from({"up": np.full(70, 0.01)}, n=70)
    sel = score_lookbacks(s, (5,), None)
    d0 = sel.days[0]
    assert sel.chosen_names()[0] == "up"
    assert sel.values[d0] == CASH_VALUE          # still cash at the decision's close
    assert sel.values[d0 + 1] == pytest.approx(CASH_VALUE * 1.01)


def test_align_carries_gaps_forward_only() -> None:
    d = weekdays(6)
    s = align_series({"a": (d[[0, 1, 3, 5]], np.array([1.0, 2.0, 4.0, 6.0])),
                      "b": (d[2:], np.array([5.0, 5.0, 5.0, 5.0]))})
    a = s.values[s.names.index("a")]
    assert a.tolist() == [1.0, 2.0, 2.0, 4.0, 4.0, 6.0]
    b = s.values[s.names.index("b")]
    assert np.isnan(b[:2]).all() and b[2:].tolist() == [5.0] * 4
