"""Benchmark of the strategy parameter search (``models.md`` §5-6, issue 12).

Run ``python bench/optimize.py`` (``--trials N``, default 120; ``--no-dask``;
``--methods HMAs,SMAs``).  On the synthetic universe (100 symbols x 35 years,
seeded) it measures, per signal method:

- CPU seconds per trial, measured inside the worker (the backtest and its
  statistics);
- the walk-forward bookkeeping in the job process (10-year in-sample,
  1-year out-of-sample folds over every finished trial), per trial;
- wall time of the whole search (pool start-up included) with 1 and 2 local
  worker processes, the speed-up, and the projected wall time of 1,000 trials;
- the same search on a Dask LocalCluster (loopback TCP) with 1 and 2 workers,
  and its speed-up; the Dask CSV is checked byte for byte against the local one.

Prints a table and writes ``bench/results/optimize.json``.  The machine may be
shared: the load average and the CPU count are recorded next to the figures.
Target (issue 12): 1,000 trials on 100 x 35 years within 3 minutes on a 2-core
machine, i.e. at most 0.35 s of CPU per trial including the walk-forward work.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from pytaaa._io import atomic_write_text
from pytaaa.config import load_config
from pytaaa.data.synth import write_workspace
from pytaaa.jobs.executors import LocalPool, WorkerPool
from pytaaa.models.optimize import draw_search, load_prices, run_search
from pytaaa.models.optimize_out import trials_csv_text
from pytaaa.models.walkforward import walk_forward
from pytaaa.montecarlo.trials import prepare

RESULTS = Path(__file__).resolve().parent / "results" / "optimize.json"
TARGET_CPU_PER_TRIAL = 0.35
TARGET_1000_WALL_S = 180.0


def _search(data: Any, params: list, pool: WorkerPool) -> tuple[float, Any]:
    t0 = time.monotonic()
    with pool:
        res = run_search(data, params, pool=pool)
    return time.monotonic() - t0, res


def bench_method(method: str, n_trials: int, folder: Path, dask: bool) -> dict[str, Any]:
    cfg = load_config(write_workspace(folder / method, n_symbols=100, years=35.0, seed=0,
                                      method=method))
    prices = load_prices(cfg)
    data = prepare(prices, cfg.valuation)
    params = draw_search(cfg.valuation, n_trials, 0)
    out: dict[str, Any] = {"method": method, "trials": n_trials, "days": len(prices.dates),
                           "symbols": len(prices.symbols) - 1}
    wall1, res1 = _search(data, params, LocalPool(1))
    wall2, res2 = _search(data, params, LocalPool(2))
    assert trials_csv_text(method, res1) == trials_csv_text(method, res2)
    cpu = [r.cpu_seconds for r in res1.results]
    values = np.vstack([r.values for r in res2.results])
    t0 = time.process_time()
    walk_forward(values, prices.dates, 10.0, 1.0)
    wf_cpu = time.process_time() - t0
    per_trial = statistics.median(cpu) + wf_cpu / n_trials
    out.update(cpu_per_trial_s=round(statistics.median(cpu), 4),
               walkforward_cpu_per_trial_s=round(wf_cpu / n_trials, 5),
               cpu_per_trial_with_walkforward_s=round(per_trial, 4),
               wall_1_worker_s=round(wall1, 2), wall_2_workers_s=round(wall2, 2),
               speedup_local=round(wall1 / wall2, 2),
               trials_per_second_2_workers=round(n_trials / wall2, 2),
               projected_1000_trials_2_workers_s=round(wall2 / n_trials * 1000, 1))
    if dask:
        from pytaaa.jobs.dask_pool import DaskPool

        d1, r1 = _search(data, params, DaskPool("local", workers=1))
        d2, r2 = _search(data, params, DaskPool("local", workers=2))
        same = trials_csv_text(method, r1) == trials_csv_text(method, r2) == \
            trials_csv_text(method, res1)
        out.update(dask_wall_1_worker_s=round(d1, 2), dask_wall_2_workers_s=round(d2, 2),
                   speedup_dask=round(d1 / d2, 2), dask_csv_identical=same)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=120)
    ap.add_argument("--methods", default="HMAs")
    ap.add_argument("--no-dask", action="store_true")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for method in args.methods.split(","):
            row = bench_method(method, args.trials, Path(tmp), not args.no_dask)
            rows.append(row)
            print(json.dumps(row, indent=1), flush=True)
    report = {
        "machine": {"cpus": os.cpu_count(), "load_avg": os.getloadavg(),
                    "python": platform.python_version()},
        "targets": {"cpu_per_trial_with_walkforward_s": TARGET_CPU_PER_TRIAL,
                    "projected_1000_trials_2_workers_s": TARGET_1000_WALL_S},
        "results": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS, json.dumps(report, indent=1) + "\n")
    print(f"{'method':<20}{'CPU/trial':>10}{'+WF':>10}{'1 w':>8}{'2 w':>8}{'x':>6}"
          f"{'1000 tr':>9}{'dask 1':>8}{'dask 2':>8}{'x':>6}")
    for r in rows:
        print(f"{r['method']:<20}{r['cpu_per_trial_s']:>10.3f}"
              f"{r['cpu_per_trial_with_walkforward_s']:>10.3f}{r['wall_1_worker_s']:>8.1f}"
              f"{r['wall_2_workers_s']:>8.1f}{r['speedup_local']:>6.2f}"
              f"{r['projected_1000_trials_2_workers_s']:>9.0f}"
              f"{r.get('dask_wall_1_worker_s', float('nan')):>8.1f}"
              f"{r.get('dask_wall_2_workers_s', float('nan')):>8.1f}"
              f"{r.get('speedup_dask', float('nan')):>6.2f}")


if __name__ == "__main__":
    main()
