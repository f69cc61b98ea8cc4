"""Benchmark: a large universe (default 2,000 symbols x 20 years), time and peak memory.

Builds a seeded synthetic workspace, then measures as separate processes, like a user runs them:

- the daily run (``pytaaa run --no-email``, charts outside their hours so none are drawn, the
  Monte Carlo results fresh from the measurement below): wall time and peak RSS (targets 5 s, 600 MB);
- first, the Monte Carlo job in the foreground (``pytaaa montecarlo --sync --trials N`` with 2
  workers): wall time and the peak of the summed PSS of the process and its children,
  sampled every 0.2 s (target 800 MB).

Prints the medians and writes ``bench/results/scale.json``.

    python bench/scale.py [--symbols 2000] [--years 20] [--repeat 3] [--trials 4]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from pytaaa.data.synth import write_workspace

TARGETS = {"run_s": 5.0, "run_peak_mb": 600.0, "mc_peak_pss_mb": 800.0}


def _tree_memory(proc: psutil.Process) -> float:
    """Summed PSS (RSS where PSS is unavailable) of ``proc`` and its children, in MB."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            info = p.memory_full_info()
            total += getattr(info, "pss", info.rss)
        except psutil.Error:
            continue
    return total / 2**20


def measure(cmd: list[str]) -> tuple[float, float, int]:
    """Run ``cmd``; return (wall seconds, peak tree memory MB, exit status)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ps = psutil.Process(proc.pid)
    peak = 0.0
    while proc.poll() is None:
        try:
            peak = max(peak, _tree_memory(ps))
        except psutil.Error:
            pass
        time.sleep(0.2)
    return time.perf_counter() - t0, peak, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=2000)
    ap.add_argument("--years", type=float, default=20.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--trials", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        cfg = write_workspace(Path(tmp) / "ws", n_symbols=args.symbols, years=args.years,
                              seed=0, config_overrides={
                                  "plot_generation_hours": [], "async_montecarlo_backtest": True,
                                  "montecarlo_workers": 2})
        build_s = time.perf_counter() - t0
        pytaaa = [sys.executable, "-m", "pytaaa"]
        # Monte Carlo first: its results are then fresh and the daily runs do not start it
        mcs = [measure([*pytaaa, "montecarlo", "--json", str(cfg), "--sync", "--force",
                        "--trials", str(args.trials)]) for _ in range(args.repeat)]
        runs = [measure([*pytaaa, "run", "--json", str(cfg), "--no-email", "--async"])
                for _ in range(args.repeat)]
    result = {
        "symbols": args.symbols, "years": args.years, "trials": args.trials,
        "build_workspace_s": build_s,
        "run_s": statistics.median(r[0] for r in runs),
        "run_peak_mb": statistics.median(r[1] for r in runs),
        "run_exit": [r[2] for r in runs],
        "mc_s": statistics.median(m[0] for m in mcs),
        "mc_peak_pss_mb": statistics.median(m[1] for m in mcs),
        "mc_exit": [m[2] for m in mcs],
        "targets": TARGETS, "machine": platform.platform(), "python": platform.python_version(),
    }
    print(f"{args.symbols} symbols x {args.years:.0f} years, median of {args.repeat}:")
    print(f"  daily run      {result['run_s']:6.2f} s  peak {result['run_peak_mb']:7.0f} MB "
          f"(targets {TARGETS['run_s']:.0f} s, {TARGETS['run_peak_mb']:.0f} MB)")
    print(f"  Monte Carlo    {result['mc_s']:6.2f} s  peak {result['mc_peak_pss_mb']:7.0f} MB PSS "
          f"({args.trials} trials, 2 workers; target {TARGETS['mc_peak_pss_mb']:.0f} MB)")
    out = Path(__file__).parent / "results" / "scale.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
