"""Benchmark: the model-switching computation and ``pytaaa models run`` on the demo models.

1. The switching rule (metrics, ranks, scores, choices, portfolio) for 6
   models (plus cash) x 35 years of weekdays x 3 lookbacks (50, 150, 250),
   monthly decisions, one model starting 10 years late: median of ``--repeat``
   runs (target <= 0.2 s); the daily-decision variant for comparison.
2. ``pytaaa models run`` wall time for the demo models (``pytaaa demo
   --models``: four models of 100 symbols x 30 years, and the switching
   account) on 2 workers, background jobs detached (median of ``--runs``).

Writes ``bench/results/model_switching.json``.

    python bench/model_switching.py [--repeat 15] [--runs 3] [--skip-run]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pytaaa.models.switching import align_series, score_lookbacks

TARGET_S = 0.2
LOOKBACKS = (50, 150, 250)


def model_series(n_models: int = 6, years: float = 35.0):
    """Six seeded random-walk model series, one starting 10 years late."""
    n_days = int(years * 261)
    start = np.datetime64("1991-01-01")
    days = np.arange(start, start + n_days * 2, dtype="datetime64[D]")
    days = days[np.is_busday(days)][:n_days]
    rng = np.random.default_rng(0)
    named = {}
    for i in range(n_models):
        first = 2610 if i == n_models - 1 else 0
        rets = rng.normal(0.0004, 0.012, n_days - first)
        named[f"model_{i}"] = (days[first:], 10_000.0 * np.cumprod(1.0 + rets))
    return align_series(named)


def time_switching(repeat: int) -> dict:
    series = model_series()
    out = {"models": len(series.names) - 1, "days": len(series.dates), "lookbacks": LOOKBACKS}
    for freq in ("monthly", "daily"):
        score_lookbacks(series, LOOKBACKS, None, frequency=freq)  # warm-up
        runs = []
        for _ in range(repeat if freq == "monthly" else max(3, repeat // 5)):
            t0 = time.perf_counter()
            score_lookbacks(series, LOOKBACKS, None, frequency=freq)
            runs.append(time.perf_counter() - t0)
        out[freq] = statistics.median(runs)
    return out


def time_models_run(runs: int) -> dict:
    from pytaaa.models.demo import SWITCHING_CONFIG, write_models_workspace

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cfg = folder / SWITCHING_CONFIG
        write_models_workspace(folder)
        walls = []
        for _ in range(runs):
            t0 = time.perf_counter()
            res = subprocess.run([sys.executable, "-m", "pytaaa", "models", "run", "--json",
                                  str(cfg), "--workers", "2", "--no-email"],
                                 capture_output=True, text=True, check=False)
            walls.append(time.perf_counter() - t0)
            if res.returncode != 0:
                raise SystemExit(f"pytaaa models run failed:\n{res.stdout}\n{res.stderr}")
            _wait_jobs(folder)
        return {"models": 4, "workers": 2, "wall_s": statistics.median(walls), "runs": walls}


def _wait_jobs(folder: Path) -> None:
    """Let the detached chart / Monte Carlo jobs of one round finish (not timed)."""
    from pytaaa.config import load_config
    from pytaaa.pipeline import wait_for_jobs

    for cfg in sorted(folder.glob("*/pytaaa*.json")):
        wait_for_jobs(load_config(cfg).webpage, timeout=900)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-run", action="store_true", help="only the switching computation")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sw = time_switching(args.repeat)
    print(f"switching rule, {sw['models']} models + cash x {sw['days']} days x "
          f"{len(LOOKBACKS)} lookbacks: monthly {sw['monthly']:.3f} s (target <= {TARGET_S} s), "
          f"daily decisions {sw['daily']:.3f} s")
    result = {"machine": platform.platform(), "switching": sw}
    if not args.skip_run:
        mr = time_models_run(args.runs)
        print(f"pytaaa models run, {mr['models']} demo models (100 symbols x 30 years) + the "
              f"account, 2 workers: {mr['wall_s']:.1f} s wall (median of {len(mr['runs'])})")
        result["models_run"] = mr
    out = Path(__file__).parent / "results" / "model_switching.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
