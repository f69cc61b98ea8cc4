"""``pytaaa optimize`` as a background job: sync and async, status for ``pytaaa jobs``,
the log, supersede, cancel, exit codes, and ``optimize apply`` — real detached
processes and real worker pools on real synthetic HDF5 workspaces."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from _helpers import wait_for

from pytaaa.config import load_config
from pytaaa.data.synth import write_workspace
from pytaaa.jobs.status import read_status
from pytaaa.models.optimize_job import LOG_NAME, start_optimize

FINISHED = {"succeeded", "failed", "cancelled", "died"}
WF = ["--insample-years", "3", "--outofsample-years", "1"]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small workspace (12 symbols x 6 years, HMAs); read-only."""
    return write_workspace(tmp_path_factory.mktemp("opt_ws"), n_symbols=12, years=6.0, seed=3,
                           config_overrides={"job_cancel_grace_seconds": 3.0})


def site_config(base: Path, folder: Path, **valuation) -> Path:
    """A config in ``folder`` reading ``base``'s store, writing into ``folder``."""
    data = json.loads(base.read_text())
    v = data["Valuation"]
    v["symbols_file"] = str(base.parent / v["symbols_file"])
    v["performance_store"] = str(folder / "performance")
    v["webpage"] = str(folder / "web")
    v.update(valuation)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model_a.json"
    path.write_text(json.dumps(data, indent=1))
    return path


def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytaaa", *args], capture_output=True,
                          text=True, timeout=timeout)


def wait_finished(site: Path, job_id: str | None = None, timeout: float = 120.0) -> dict:
    def done():
        st = read_status(site, "optimize")
        if st and st["state"] in FINISHED and (job_id is None or st["job_id"] == job_id):
            return st
        return None

    return wait_for(done, timeout, step=0.05)


def test_sync_search_writes_every_output_and_a_timestamped_log(base: Path, tmp_path: Path) -> None:
    path = site_config(base, tmp_path)
    proc = cli("optimize", "--json", str(path), "--trials", "5", "--seed", "7", "--sync", *WF)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "5 of 5 trials done" in proc.stdout and "walk-forward (out-of-sample)" in proc.stdout
    assert "pytaaa optimize apply --json" in proc.stdout
    web = tmp_path / "web"
    for name in ("model_a_optimize_trials.csv", "model_a_walkforward.csv", "model_a_optimize.png"):
        assert (web / name).stat().st_size > 0
    assert len(list(tmp_path.glob("model_a_optimized_*.json"))) == 1
    log = (web / LOG_NAME).read_text()
    lines = log.splitlines()
    assert all(re.match(r"^\[\d\d:\d\d:\d\d\] ", line) for line in lines)
    assert "Trial 5/5 complete" in log and "Best in-sample: trial" in log
    assert "model_a_optimize.png written" in log and "Parameter search SUCCEEDED" in log
    st = read_status(web, "optimize")
    assert st["state"] == "succeeded" and (st["total"], st["done"], st["exit_code"]) == (5, 5, 0)
    jobs = cli("jobs", "--json", str(path))
    assert jobs.returncode == 0 and "optimize" in jobs.stdout and "succeeded" in jobs.stdout


@pytest.mark.slow
def test_async_returns_at_once_and_matches_a_sync_run_with_another_worker_count(
        base: Path, tmp_path: Path) -> None:
    a = load_config(site_config(base, tmp_path / "a"))
    b = load_config(site_config(base, tmp_path / "b"))
    t0 = time.monotonic()
    started = start_optimize(a, sync=False, trials=6, seed=5, workers=2, windows=(3.0, 1.0))
    assert started.mode == "async" and time.monotonic() - t0 < 1.0
    sync = start_optimize(b, sync=True, trials=6, seed=5, workers=1, windows=(3.0, 1.0))
    assert sync.exit_code == 0
    st = wait_finished(a.webpage, started.job_id)
    assert st["state"] == "succeeded" and st["done"] == 6
    for name in ("model_a_optimize_trials.csv", "model_a_walkforward.csv"):
        assert (a.webpage / name).read_bytes() == (b.webpage / name).read_bytes()


@pytest.mark.slow
def test_a_new_search_supersedes_the_running_one_and_cancel_stops_it(base: Path,
                                                                        tmp_path: Path) -> None:
    path = site_config(base, tmp_path, job_cancel_grace_seconds=3.0)
    cfg = load_config(path)
    first = start_optimize(cfg, trials=3000, seed=1, workers=1, windows=(3.0, 1.0))
    wait_for(lambda: (read_status(cfg.webpage, "optimize") or {}).get("done", 0) >= 2)
    second = start_optimize(cfg, trials=4000, seed=1, workers=1, windows=(3.0, 1.0))
    assert second.mode == "async" and second.pid != first.pid
    wait_for(lambda: not psutil.pid_exists(first.pid), timeout=30)
    old = (cfg.webpage / (LOG_NAME + ".1")).read_text()
    assert f"Job id: {first.job_id}" in old and "CANCELLED" in old
    wait_for(lambda: (read_status(cfg.webpage, "optimize") or {}).get("done", 0) >= 1)
    proc = cli("jobs", "cancel", "optimize", "--json", str(path))
    assert proc.returncode == 0, proc.stderr
    st = wait_finished(cfg.webpage, second.job_id)
    assert st["state"] == "cancelled" and st["exit_code"] == 143
    wait_for(lambda: not psutil.pid_exists(second.pid), timeout=30)
    assert not (cfg.webpage / "model_a_optimize_trials.csv").exists()


def test_bad_input_exits_2_with_one_clear_line(base: Path, tmp_path: Path) -> None:
    proc = cli("optimize", "--trials", "3")
    assert proc.returncode == 2 and "give --json" in proc.stderr
    path = site_config(base, tmp_path)
    proc = cli("optimize", "--json", str(path), "--scheduler", "not an address", "--sync")
    assert proc.returncode == 2 and "invalid Dask scheduler address 'not an address'" in proc.stderr
    proc = cli("montecarlo", "--json", str(path), "--scheduler", "bad host", "--sync")
    assert proc.returncode == 2 and "invalid Dask scheduler address 'bad host'" in proc.stderr
    missing = site_config(base, tmp_path / "m", symbols_file=str(tmp_path / "nowhere.txt"))
    proc = cli("optimize", "--json", str(missing), "--trials", "2", "--sync")
    assert proc.returncode == 2
    st = read_status(tmp_path / "m" / "web", "optimize")
    assert st["state"] == "failed" and "nowhere" in st["message"]
    assert not list((tmp_path / "m").glob("*_optimized_*.json"))
    proc = cli("optimize", "apply", "--json", str(path), "--row", "1")
    assert proc.returncode == 2 and "model_a_optimize_trials.csv" in proc.stderr


def test_apply_command_writes_the_row_after_a_backup(base: Path, tmp_path: Path) -> None:
    path = site_config(base, tmp_path)
    assert cli("optimize", "--json", str(path), "--trials", "3", "--sync", *WF).returncode == 0
    before = path.read_text()
    proc = cli("optimize", "apply", "--json", str(path), "--row", "2")
    assert proc.returncode == 0, proc.stderr
    backups = list(tmp_path.glob("model_a.json.*.bak"))
    assert len(backups) == 1 and backups[0].read_text() == before
    row = (tmp_path / "web" / "model_a_optimize_trials.csv").read_text().splitlines()[3]
    long_period = int(row.split(",")[1])
    assert load_config(path).valuation.LongPeriod == long_period
    assert f"LongPeriod={long_period}" in proc.stdout
