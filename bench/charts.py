"""Benchmark of the per-symbol charts and the charts job (spec/charts.md section 5).

Run ``python bench/charts.py`` (``--quick`` for a smaller run).  Builds
synthetic workspaces (100 and 500 symbols x 35 years, seeded) through the real
analysis, then measures:

- CPU seconds per chart of each kind (one renderer, in this process);
- wall time for all charts with 1, 2 and 4 workers (the job code, sync mode,
  ``force``), speed-up and parallel efficiency, peak RSS and USS per worker;
- the time the caller is blocked by an async start (hand-off write + spawn,
  and the spawn alone), and the async job end to end;
- a re-run with every chart fresh (sync, and async end to end);
- peak worker memory over repeated runs (growth).

Prints a table and writes ``bench/results/charts.json``.  The machine may be
shared: figures are quoted with the load average and CPU count of the run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from pytaaa._io import atomic_write_text
from pytaaa.charts.inputs import build_chart_inputs, handoff_payload
from pytaaa.charts.start import start_charts
from pytaaa.charts.symbol import SymbolChartRenderer, SymbolSeries
from pytaaa.config import load_config
from pytaaa.data.synth import write_workspace
from pytaaa.engine.analysis import analyze
from pytaaa.jobs.handoff import write_handoff
from pytaaa.jobs.paths import JobPaths
from pytaaa.jobs.runtime import launch
from pytaaa.jobs.status import read_status

NOW = dt.datetime(2026, 11, 20, 3, 0, 0)
RESULTS = Path(__file__).resolve().parent / "results" / "charts.json"


class WorkerMemory:
    """Samples the RSS/USS of this process's pool workers every 0.1 s."""

    def __init__(self) -> None:
        self.rss = 0
        self.uss = 0
        self.seen: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _workers(self) -> list[psutil.Process]:
        out = []
        for child in psutil.Process().children():
            try:
                cmd = " ".join(child.cmdline())
            except psutil.Error:
                continue
            if "forkserver" in cmd:
                out += child.children()
            elif "spawn_main" in cmd:
                out.append(child)
        return out

    def _loop(self) -> None:
        while not self._stop.is_set():
            for p in self._workers():
                try:
                    mem = p.memory_full_info()
                except psutil.Error:
                    continue
                self.seen.add(p.pid)
                self.rss = max(self.rss, mem.rss)
                self.uss = max(self.uss, mem.uss)
            self._stop.wait(0.1)

    def __enter__(self) -> WorkerMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class Universe:
    def __init__(self, root: Path, n: int, years: float) -> None:
        t0 = time.perf_counter()
        self.n = n
        self.config = load_config(write_workspace(root / f"ws{n}", n_symbols=n, years=years, seed=0))
        self.analysis = analyze(self.config)
        self.root = root
        self.setup_seconds = time.perf_counter() - t0

    def site(self, name: str, **valuation: Any) -> tuple[Any, Any]:
        cfg = self.config.with_valuation(webpage=str(self.root / f"{name}-{self.n}"), **valuation)
        return cfg, build_chart_inputs(cfg, self.analysis, {})


def per_chart_cpu(u: Universe, count: int) -> dict[str, Any]:
    cfg, inputs = u.site("cpu")
    out = Path(cfg.webpage)
    out.mkdir(parents=True, exist_ok=True)
    renderer = SymbolChartRenderer(inputs.dates, inputs.params)
    res: dict[str, Any] = {}
    for kind in ("full", "recent"):
        times = []
        for i in range(min(count, len(inputs.symbols) - 1) + 1):
            s = SymbolSeries(inputs.symbols[i], None, inputs.close[i], inputs.despiked[i],
                             inputs.held[i], inputs.daily[i])
            t = time.process_time()
            draw = renderer.render_full if kind == "full" else renderer.render_recent
            draw(s, out / f"{kind}-{i}.png", NOW)
            times.append(time.process_time() - t)
        times = times[1:]  # the first call builds the figure
        res[kind] = {"median_s": statistics.median(times), "mean_s": statistics.fmean(times),
                     "max_s": max(times), "charts": len(times)}
    return res


def wall(u: Universe, workers: int, repeat: int = 1) -> dict[str, Any]:
    runs = []
    for r in range(repeat):
        cfg, inputs = u.site(f"wall{workers}")
        with WorkerMemory() as mem:
            t0 = time.perf_counter()
            res = start_charts(cfg, inputs, sync=True, workers=workers, force=True, now=NOW)
            seconds = time.perf_counter() - t0
        assert res.exit_code == 0 and res.created == 2 * len(inputs.symbols), res
        runs.append({"seconds": seconds, "charts": res.created, "peak_rss_mb": mem.rss / 2**20,
                     "peak_uss_mb": mem.uss / 2**20, "worker_pids": len(mem.seen), "run": r})
    return {"workers": workers, "seconds": min(x["seconds"] for x in runs), "runs": runs}


def fresh_rerun(u: Universe) -> dict[str, Any]:
    cfg, inputs = u.site("wall2")
    t0 = time.perf_counter()
    res = start_charts(cfg, inputs, sync=True, workers=2, now=NOW)
    sync_s = time.perf_counter() - t0
    assert res.created == 0 and res.skipped == 2 * len(inputs.symbols), res
    t0 = time.perf_counter()
    ares = start_charts(cfg, inputs, sync=False, workers=2, now=NOW)
    st = _wait(Path(cfg.webpage), ares.job_id)
    assert st["skipped"] == 2 * len(inputs.symbols) and ares.mode == "async", st
    return {"sync_s": sync_s, "async_end_to_end_s": time.perf_counter() - t0}


def _wait(site: Path, job_id: str | None) -> dict[str, Any]:
    while True:
        st = read_status(site, "charts")
        if st and st["job_id"] == job_id and st["state"] not in ("queued", "running"):
            return st
        time.sleep(0.02)


def spawn(u: Universe, repeat: int) -> dict[str, Any]:
    total, handoff, popen, job = [], [], [], []
    for r in range(repeat):
        cfg, inputs = u.site(f"spawn{r}")
        t0 = time.perf_counter()
        res = start_charts(cfg, inputs, sync=False, workers=2, now=NOW)
        total.append(time.perf_counter() - t0)
        st = _wait(Path(cfg.webpage), res.job_id)
        job.append(time.perf_counter() - t0)
        assert st["state"] == "succeeded", st
        # the two parts: writing the hand-off, starting the process
        spec = inputs.spec(NOW)
        paths = JobPaths(Path(cfg.webpage), "charts")
        t0 = time.perf_counter()
        h = write_handoff(paths.spool_dir, "charts", handoff_payload(spec), inputs.arrays())
        handoff.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        res = launch(paths, module="pytaaa.charts.job", log_name="plot_generation.log",
                     job_id=f"bench-{r}", workers=2, write_inputs=lambda spool: h,
                     args=["--max-workers", "2"])
        popen.append(time.perf_counter() - t0)
        assert res.ok
        _wait(Path(cfg.webpage), res.job_id)
    size = sum(a.nbytes for a in inputs.arrays().values())
    return {"caller_blocked_s": statistics.median(total), "caller_blocked_max_s": max(total),
            "handoff_write_s": statistics.median(handoff), "spawn_only_s": statistics.median(popen),
            "handoff_mb": size / 2**20, "async_job_end_to_end_s": statistics.median(job)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller run (20/100 symbols, 10 years)")
    args = ap.parse_args(argv)
    sizes, years = ((20, 100), 10.0) if args.quick else ((100, 500), 35.0)
    cores = os.cpu_count() or 1
    out: dict[str, Any] = {
        "when": dt.datetime.now().isoformat(timespec="seconds"),
        "cpu_count": cores,
        "load_average_before": os.getloadavg(),
        "python": sys.version.split()[0],
        "years": years,
        "note": "shared machine: other processes may compete for the CPUs",
    }
    with tempfile.TemporaryDirectory(prefix="pytaaa-bench-") as tmp:
        root = Path(tmp)
        small, large = (Universe(root, n, years) for n in sizes)
        out["days"] = int(len(small.analysis.dates))
        out["per_chart_cpu"] = per_chart_cpu(small, 30)
        walls = {w: wall(small, w, repeat=1 if w == 4 else 3) for w in (1, 2, 4)}
        t1 = walls[1]["seconds"]
        out[f"wall_{small.n}"] = {
            str(w): {**r, "speedup": t1 / r["seconds"],
                     "efficiency": t1 / (min(w, cores) * r["seconds"])}
            for w, r in walls.items()
        }
        out[f"fresh_rerun_{small.n}"] = fresh_rerun(small)
        out[f"spawn_{small.n}"] = spawn(small, 3)
        lw = {w: wall(large, w) for w in (1, 2)}
        out[f"wall_{large.n}"] = {
            str(w): {**r, "speedup": lw[1]["seconds"] / r["seconds"],
                     "efficiency": lw[1]["seconds"] / (min(w, cores) * r["seconds"])}
            for w, r in lw.items()
        }
        out[f"spawn_{large.n}"] = spawn(large, 2)
    out["load_average_after"] = os.getloadavg()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS, json.dumps(out, indent=2) + "\n")
    _print(out, sizes)
    return 0


def _print(out: dict[str, Any], sizes: tuple[int, int]) -> None:
    small, large = sizes
    rows = [
        ("CPU per full-history chart (median)", f"{out['per_chart_cpu']['full']['median_s']:.3f} s"),
        ("CPU per recent chart (median)", f"{out['per_chart_cpu']['recent']['median_s']:.3f} s"),
    ]
    for n in (small, large):
        for w, r in out[f"wall_{n}"].items():
            mem = max(x["peak_rss_mb"] for x in r["runs"])
            uss = max(x["peak_uss_mb"] for x in r["runs"])
            rows.append((f"{2 * n} charts, {w} worker(s)",
                         f"{r['seconds']:.2f} s wall, speed-up {r['speedup']:.2f}, efficiency "
                         f"{r['efficiency']:.2f}, peak RSS {mem:.0f} MB (USS {uss:.0f} MB)"))
        sp = out[f"spawn_{n}"]
        rows.append((f"async start, {n} symbols ({sp['handoff_mb']:.0f} MB)",
                     f"caller blocked {sp['caller_blocked_s'] * 1000:.0f} ms (hand-off "
                     f"{sp['handoff_write_s'] * 1000:.0f} ms, spawn {sp['spawn_only_s'] * 1000:.1f} "
                     f"ms); job end to end {sp['async_job_end_to_end_s']:.1f} s"))
    fr = out[f"fresh_rerun_{small}"]
    rows.append((f"all fresh re-run, {small} symbols",
                 f"sync {fr['sync_s']:.2f} s, async end to end {fr['async_end_to_end_s']:.2f} s"))
    reps = out[f"wall_{small}"]["2"]["runs"]
    rows.append((f"peak worker RSS over {len(reps)} runs",
                 ", ".join(f"{x['peak_rss_mb']:.0f} MB" for x in reps)))
    width = max(len(r[0]) for r in rows)
    print(f"charts benchmark: {out['cpu_count']} CPUs, {out['days']} days, load "
          f"{out['load_average_before'][0]:.2f} -> {out['load_average_after'][0]:.2f} (shared machine)")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    print(f"results: {RESULTS}")


if __name__ == "__main__":
    sys.exit(main())
