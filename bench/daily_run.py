"""Benchmark: the daily run on the synthetic universe, time per stage.

Builds a workspace of 100 symbols x 35 years (seeded), then runs the daily
run without the two background jobs (charts and Monte Carlo are measured by
their own benchmarks) several times for HMAs and percentileChannels, and
prints the median time per stage, then times ``pytaaa data check`` on the
same store.  Writes ``bench/results/daily_run.json``.

    python bench/daily_run.py [--repeat 5] [--symbols 100] [--years 35]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import tempfile
import time
from pathlib import Path

from pytaaa.config import load_config
from pytaaa.data.synth import write_workspace
from pytaaa.pipeline import daily_run

TARGET_S = 5.0


def bench(method: str, folder: Path, symbols: int, years: float, repeat: int) -> dict:
    cfg_path = write_workspace(folder / method, n_symbols=symbols, years=years, method=method)
    cfg = load_config(cfg_path)
    daily_run(cfg, charts=False, montecarlo=False, send_email=False)  # warm-up (imports, caches)
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = daily_run(cfg, charts=False, montecarlo=False, send_email=False)
        total = time.perf_counter() - t0
        stages = dict(res.analysis.timings)
        stages.update({k: v for k, v in res.timings.items() if k != "analysis"})
        stages["total"] = total
        runs.append(stages)
    keys = list(runs[0])
    return {k: statistics.median(r.get(k, 0.0) for r in runs) for k in keys}


CHECK_TARGET_S = 1.0


def bench_check(folder: Path, repeat: int) -> float:
    """Median seconds of `pytaaa data check` (read the store raw + every finding) on the
    HMAs workspace's store."""
    import datetime as dt

    from pytaaa.data.check import run_check

    cfg = load_config(folder / "HMAs" / "pytaaa.json")
    now = dt.datetime.now()
    run_check(cfg.valuation.symbols_file, now=now)  # warm-up (calendar, imports)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run_check(cfg.valuation.symbols_file, now=now)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--symbols", type=int, default=100)
    ap.add_argument("--years", type=float, default=35.0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for method in ("HMAs", "percentileChannels", "SMAs", "minmaxChannels"):
            results[method] = bench(method, Path(tmp), args.symbols, args.years, args.repeat)
        check_s = bench_check(Path(tmp), args.repeat)
    stages = list(results["HMAs"])
    print(f"daily run, {args.symbols} symbols x {args.years:.0f} years, median of {args.repeat} "
          f"runs, without charts and Monte Carlo (target < {TARGET_S:.0f} s)")
    print(f"{'stage':<12}" + "".join(f"{m:>20}" for m in results))
    for s in stages:
        print(f"{s:<12}" + "".join(f"{results[m].get(s, 0.0):>19.3f}s" for m in results))
    print(f"data check   {check_s:.3f}s  (pytaaa data check on the same store, target < "
          f"{CHECK_TARGET_S:.0f} s)")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "daily_run.json").write_text(json.dumps({
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "symbols": args.symbols, "years": args.years, "repeat": args.repeat,
        "median_seconds": results, "target_seconds": TARGET_S,
        "data_check_median_seconds": check_s, "data_check_target_seconds": CHECK_TARGET_S},
        indent=2))


if __name__ == "__main__":
    main()
