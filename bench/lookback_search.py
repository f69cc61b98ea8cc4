"""Benchmark of the lookback search (``models.md`` §5, issue 12).

Run ``python bench/lookback_search.py`` (``--iterations N``, default 50,000;
``--models M``, default 6; ``--years Y``, default 35).  On synthetic model
series (seeded random walks with slow trends, one model starting later) and
the default range of lookbacks [20, 300], monthly decisions and one focus
period blended with the whole history, it measures the precomputation (every
model's window metrics for every lookback, the pairwise rank counts) and the
iterations, CPU and wall.  Prints the figures and writes
``bench/results/lookback_search.json`` with the load average of the run.
Target (issue 12): 50,000 iterations on 6 models x 35 years in at most 60 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from pathlib import Path

import numpy as np

from pytaaa._io import atomic_write_text
from pytaaa.models.lookback import (
    FocusPeriod,
    LookbackScorer,
    SearchSettings,
    run_lookback_search,
)
from pytaaa.models.settings import METRICS, ModelEntry, SwitchingSettings
from pytaaa.models.switching import ModelSeries

RESULTS = Path(__file__).resolve().parent / "results" / "lookback_search.json"
TARGET_S = 60.0


def synthetic_series(n_models: int, years: float, seed: int = 0) -> ModelSeries:
    rng = np.random.default_rng(seed)
    start = np.datetime64("1991-01-02")
    days = np.arange(start, start + int(years * 365.25))
    days = days[np.is_busday(days)]
    names = ("cash",) + tuple(f"model_{i}" for i in range(1, n_models + 1))
    vals = np.full((len(names), len(days)), 10_000.0)
    t = np.arange(len(days))
    for i in range(1, len(names)):
        trend = 0.0008 * np.sin(t / (60.0 + 25 * i))
        vals[i] = 10_000.0 * np.cumprod(1 + trend + rng.normal(0.0003, 0.012, len(days)))
    vals[-1, : len(days) // 5] = np.nan
    return ModelSeries(names, days, vals)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=50_000)
    ap.add_argument("--models", type=int, default=6)
    ap.add_argument("--years", type=float, default=35.0)
    args = ap.parse_args()
    series = synthetic_series(args.models, args.years)
    names = series.names
    settings = SwitchingSettings(Path("bench.json"), Path("."), tuple(
        ModelEntry(n, "cash" if n == "cash" else "file") for n in names), "backtested",
        "monthly", (50, 150, 250), {m: 1.0 for m in METRICS}, {m: 0.0 for m in METRICS},
        {m: 1.0 for m in METRICS})
    search = SearchSettings(20, 300, args.iterations, 0.5, (
        FocusPeriod("full", None, None, 1.0),
        FocusPeriod("focus1", dt.date(2008, 1, 1), dt.date(2012, 12, 31), 1.0)))
    w0, c0 = time.perf_counter(), time.process_time()
    scorer = LookbackScorer(series, settings, search)
    pre_wall, pre_cpu = time.perf_counter() - w0, time.process_time() - c0
    w1, c1 = time.perf_counter(), time.process_time()
    out = run_lookback_search(scorer, (50, 150, 250), seed=0, iterations=args.iterations)
    it_wall, it_cpu = time.perf_counter() - w1, time.process_time() - c1
    report = {
        "machine": {"cpus": os.cpu_count(), "load_avg": os.getloadavg()},
        "models": args.models, "days": len(series.dates), "decision_days": len(scorer.days),
        "iterations": out.done, "distinct_triples": out.scored, "new_bests": len(out.rows),
        "precompute_wall_s": round(pre_wall, 2), "precompute_cpu_s": round(pre_cpu, 2),
        "iterations_wall_s": round(it_wall, 2), "iterations_cpu_s": round(it_cpu, 2),
        "cpu_per_iteration_ms": round(1000 * it_cpu / max(1, out.done), 3),
        "total_wall_s": round(pre_wall + it_wall, 2), "total_cpu_s": round(pre_cpu + it_cpu, 2),
        "target_total_s": TARGET_S,
        "best": list(out.best.evaluation.lookbacks), "best_score": out.best.evaluation.score,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS, json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
