"""Benchmark of the Monte Carlo backtest (spec/montecarlo.md section 5).

Run ``python bench/montecarlo.py`` (``--repeat N``, ``--trials N``,
``--methods HMAs,SMAs``, ``--quick`` for a small run).  On the synthetic
universe (100 symbols x 35 years, seeded) it measures, for each signal method:

- CPU seconds per trial (measured in the worker of the 1-worker run, and in
  the 2-worker run: a wall time that does not shrink while the CPU time stays
  the same means the second core was busy with something else);
- wall time for all trials with 1 and 2 worker processes (the real pool,
  including its start-up), and the speed-up;
- the whole job started async with 2 workers (store read, trials, data
  files, PNGs): the time the start blocks its caller, the time to the end of
  the job, and the peak memory of the job's process tree (job, fork server,
  workers) as the sum of PSS (proportional set size: shared pages split
  between the processes that share them);

and, for HMAs, the same job in sync mode.  Every figure is the
median of ``--repeat`` runs.  Prints a table and writes
``bench/results/montecarlo.json``.  The machine may be shared: the load
average and CPU count of the run are recorded next to the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from pytaaa._io import atomic_write_text
from pytaaa.config import METHODS, load_config
from pytaaa.data.store import read_store
from pytaaa.data.synth import write_workspace
from pytaaa.engine.cleaning import clean
from pytaaa.jobs.status import read_status
from pytaaa.montecarlo.pool import run_trials, share_data
from pytaaa.montecarlo.start import start_montecarlo
from pytaaa.montecarlo.trials import draw_trials, prepare

RESULTS = Path(__file__).resolve().parent / "results" / "montecarlo.json"
TARGETS = {
    "cpu_per_trial_s": {"HMAs": 0.4, "percentileChannels": 1.0},
    "wall_2_workers_s": {"HMAs": 8.0},
    "peak_pss_mb": 400.0,  # the job's process tree
}
NOW = dt.datetime(2026, 11, 20, 23, 0)


def _pss_rss_mb(proc: psutil.Process) -> tuple[float, float]:
    """PSS and RSS of ``proc`` in MB; PSS from ``/proc/<pid>/smaps_rollup`` (cheap)
    where it exists, else RSS for both."""
    try:
        text = Path(f"/proc/{proc.pid}/smaps_rollup").read_text()
    except OSError:
        rss = proc.memory_info().rss / 2**20
        return rss, rss
    fields = {ln.split(":")[0]: ln.split()[1] for ln in text.splitlines()[1:] if ":" in ln}
    return int(fields.get("Pss", 0)) / 1024, int(fields.get("Rss", 0)) / 1024


class MemorySampler:
    """Samples the summed PSS and RSS of this process and its descendants."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.base_pss = 0.0  # this process alone when sampling started
        self.peak_pss = 0.0
        self.peak_rss = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        pss = rss = 0.0
        for p in [me] + me.children(recursive=True):
            try:
                a, b = _pss_rss_mb(p)
            except psutil.Error:
                continue
            pss += a
            rss += b
        self.peak_pss = max(self.peak_pss, pss)
        self.peak_rss = max(self.peak_rss, rss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> MemorySampler:
        self.base_pss = _pss_rss_mb(psutil.Process())[0]
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def bench_method(config_path: Path, method: str, trials: int, repeat: int,
                 work: Path) -> dict[str, Any]:
    """Per-trial CPU, wall with 1 and 2 workers, peak memory for one method.

    The pools get the data as the job does: memory-mapped from files in
    ``work``.  CPU per trial is measured inside the worker of the 1-worker run
    (no other trial competes with it); this process runs no trial itself, so
    its memory is what a job's main process holds.
    """
    cfg = load_config(config_path)
    v = cfg.valuation.model_copy(update={"uptrendSignalMethod": method})
    quotes = read_store(cfg.symbols_file)
    t0 = time.perf_counter()
    prices = clean(quotes, v.LongPeriod, v.stddevThreshold)
    clean_s = time.perf_counter() - t0
    del quotes
    params = draw_trials(v, trials, v.montecarlo_seed)
    cpu: list[float] = []
    cpu2: list[float] = []
    wall1: list[float] = []
    wall2: list[float] = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run = run_trials(share_data(prepare(prices, v), work), params, workers=1)
        wall1.append(time.perf_counter() - t0)
        assert not run.errors and len(run.results) == trials
        cpu += [r.cpu_seconds for r in run.results]
        t0 = time.perf_counter()
        run = run_trials(share_data(prepare(prices, v), work), params, workers=2)
        wall2.append(time.perf_counter() - t0)
        assert not run.errors and len(run.results) == trials
        cpu2 += [r.cpu_seconds for r in run.results]
    w1, w2 = statistics.median(wall1), statistics.median(wall2)
    return {
        "method": method,
        "symbols": len(prices.symbols) - 1,
        "days": len(prices.dates),
        "trials": trials,
        "clean_s": round(clean_s, 3),
        "cpu_per_trial_s": round(statistics.median(cpu), 3),
        "cpu_per_trial_p90_s": round(statistics.quantiles(cpu, n=10)[-1], 3),
        "cpu_per_trial_2_workers_s": round(statistics.median(cpu2), 3),
        "cpu_all_trials_2_workers_s": round(sum(cpu2) / repeat, 2),
        "wall_1_worker_s": round(w1, 2),
        "wall_2_workers_s": round(w2, 2),
        "speedup_2_workers": round(w1 / w2, 2),
        "runs_wall_1": [round(x, 2) for x in wall1],
        "runs_wall_2": [round(x, 2) for x in wall2],
    }


def method_config(config_path: Path, folder: Path, method: str) -> Path:
    """A copy of the workspace config for ``method`` writing into ``folder``."""
    data = json.loads(config_path.read_text())
    v = data["Valuation"]
    v["uptrendSignalMethod"] = method
    v["symbols_file"] = str(config_path.parent / v["symbols_file"])
    v["performance_store"] = str(folder / "performance")
    v["webpage"] = str(folder / "web")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pytaaa.json"
    atomic_write_text(path, json.dumps(data, indent=1))
    return path


def bench_job(config_path: Path, trials: int, repeat: int, sync: bool) -> dict[str, Any]:
    """The whole job (store read, trials on 2 workers, data files, PNGs).

    Async: the time the start blocks its caller, the job end to end, and the
    peak PSS of the job's process tree (job, fork server, workers), which is
    the memory the Monte Carlo run adds to the machine.  Sync (``sync``): the
    same job in this process, end to end.
    """
    cfg = load_config(config_path)
    spawn_s: list[float] = []
    async_s: list[float] = []
    job_pss: list[float] = []
    sync_s: list[float] = []
    for _ in range(repeat):
        with MemorySampler(interval=0.25) as mem:
            t0 = time.perf_counter()
            res = start_montecarlo(cfg, sync=False, trials=trials, workers=2, force=True,
                                   now=NOW)
            spawn_s.append(time.perf_counter() - t0)
            assert res.mode == "async", res.reason
            while True:
                st = read_status(cfg.webpage, "montecarlo")
                if st and st["job_id"] == res.job_id and st["state"] not in ("queued", "running"):
                    break
                time.sleep(0.05)
            async_s.append(time.perf_counter() - t0)
        assert st["state"] == "succeeded", st
        job_pss.append(mem.peak_pss - mem.base_pss)
        if sync:
            t0 = time.perf_counter()
            res = start_montecarlo(cfg, sync=True, trials=trials, workers=2, force=True, now=NOW)
            sync_s.append(time.perf_counter() - t0)
            assert res.exit_code == 0, res.reason
    out = {
        "async_start_blocks_caller_s": round(statistics.median(spawn_s), 4),
        "async_job_end_to_end_s": round(statistics.median(async_s), 2),
        "job_peak_pss_mb": round(statistics.median(job_pss), 1),
    }
    if sync_s:
        out["sync_job_s"] = round(statistics.median(sync_s), 2)
    return out


def _check(row: dict[str, Any]) -> str:
    bad = []
    m = row["method"]
    for key in ("cpu_per_trial_s", "wall_2_workers_s"):
        limit = TARGETS[key].get(m)
        if limit is not None and row[key] > limit:
            bad.append(f"{key} > {limit}")
    if row["job_peak_pss_mb"] > TARGETS["peak_pss_mb"]:
        bad.append(f"job peak > {TARGETS['peak_pss_mb']} MB")
    return "ok" if not bad else "; ".join(bad)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table; write the JSON results."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--trials", type=int, default=25)
    ap.add_argument("--symbols", type=int, default=100)
    ap.add_argument("--years", type=float, default=35.0)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--quick", action="store_true", help="20 symbols x 10 years, 1 repeat")
    args = ap.parse_args(argv)
    if args.quick:
        args.symbols, args.years, args.repeat = 20, 10.0, 1
    methods = [m for m in args.methods.split(",") if m]
    load = os.getloadavg()
    out: dict[str, Any] = {
        "when": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": sys.version.split()[0], "loadavg_start": [round(x, 2) for x in load]},
        "settings": {"symbols": args.symbols, "years": args.years, "trials": args.trials,
                     "repeat": args.repeat},
        "targets": TARGETS,
        "methods": [],
    }
    with tempfile.TemporaryDirectory(prefix="pytaaa-bench-mc-") as tmp:
        folder = Path(tmp)
        config_path = write_workspace(folder / "ws", n_symbols=args.symbols, years=args.years,
                                      seed=0, method="HMAs")
        for method in methods:
            work = folder / "work"
            work.mkdir(exist_ok=True)
            row = bench_method(config_path, method, args.trials, args.repeat, work)
            cfg_m = method_config(config_path, folder / method, method)
            row.update(bench_job(cfg_m, args.trials, args.repeat, sync=method == "HMAs"))
            row["targets"] = _check(row)
            out["methods"].append(row)
            print(f"{method:20s} cpu/trial {row['cpu_per_trial_s']:.3f} s  "
                  f"wall 1w {row['wall_1_worker_s']:.2f} s  2w {row['wall_2_workers_s']:.2f} s  "
                  f"job {row['async_job_end_to_end_s']:.2f} s, peak {row['job_peak_pss_mb']:.0f} MB"
                  f"  [{row['targets']}]", flush=True)
    out["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    head = (f"{'method':20s} {'CPU/trial s':>11s} {'1 worker s':>10s} {'2 workers s':>11s} "
            f"{'speed-up':>8s} {'job s':>6s} {'job MB':>6s}  targets")
    print()
    print(f"Monte Carlo, {args.symbols} symbols x {args.years:g} years, {args.trials} trials, "
          f"median of {args.repeat} (cpus {os.cpu_count()}, load {load[0]:.1f})")
    print(head)
    print("-" * len(head))
    for r in out["methods"]:
        print(f"{r['method']:20s} {r['cpu_per_trial_s']:11.3f} {r['wall_1_worker_s']:10.2f} "
              f"{r['wall_2_workers_s']:11.2f} {r['speedup_2_workers']:8.2f} "
              f"{r['async_job_end_to_end_s']:6.1f} {r['job_peak_pss_mb']:6.0f}  {r['targets']}")
    print("job s / job MB: the async job end to end (store, trials on 2 workers, files, PNGs) "
          "and the peak PSS of its process tree")
    for r in out["methods"]:
        if "sync_job_s" in r:
            print(f"{r['method']} job in sync mode: {r['sync_job_s']:.2f} s")
    blocks = [r["async_start_blocks_caller_s"] for r in out["methods"]]
    if blocks:
        print(f"an async start blocks its caller {1000 * statistics.median(blocks):.1f} ms")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS, json.dumps(out, indent=1) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
