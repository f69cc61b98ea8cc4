"""The Monte Carlo job end to end (seed 001): the runner's CLI, sync and async
modes, mode from config, freshness, supersede, E2E-03/04/05, ERR-01..08, REG-07.

Jobs are real detached processes with real trial pools on real synthetic HDF5
workspaces; faults are real (missing, malformed and invalid configs, a missing
store, a trial that raises, an interpreter that cannot start, an immutable log).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from _helpers import wait_for

from pytaaa.config import load_config
from pytaaa.data.synth import write_workspace
from pytaaa.jobs.lock import JobLock, lock_is_free
from pytaaa.jobs.paths import JobPaths
from pytaaa.jobs.status import read_status
from pytaaa.montecarlo.outputs import MC_CSV_FILE, MC_PARAMS_FILE, PCTLONG_FILE
from pytaaa.montecarlo.plots import RECENT_PNG
from pytaaa.montecarlo.pool import FAIL_TRIAL_ENV
from pytaaa.montecarlo.start import (
    LOG_NAME,
    MAIN_PNG,
    is_stale,
    png_age_hours,
    start_montecarlo,
)

NOW = dt.datetime(2026, 11, 20, 22, 30)
FINISHED = {"succeeded", "failed", "cancelled", "died"}
DATA_FILES = (MC_PARAMS_FILE, PCTLONG_FILE, MC_CSV_FILE)


@pytest.fixture(scope="module")
def base_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic workspace (12 symbols x 6 years, HMAs, 3 trials); read-only."""
    return write_workspace(tmp_path_factory.mktemp("mc_ws"), n_symbols=12, years=6.0, seed=2,
                           config_overrides={"montecarlo_trials": 3, "montecarlo_workers": 2,
                                             "job_cancel_grace_seconds": 3.0})


def make_config(base: Path, folder: Path, *, drop: tuple[str, ...] = (), **valuation) -> Path:
    """A config in ``folder`` that reads ``base``'s store and writes into ``folder``."""
    data = json.loads(base.read_text())
    v = data["Valuation"]
    v["symbols_file"] = str(base.parent / v["symbols_file"])
    v["performance_store"] = str(folder / "performance")
    v["webpage"] = str(folder / "web")
    v.update(valuation)
    for key in drop:
        v.pop(key, None)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pytaaa.json"
    path.write_text(json.dumps(data, indent=1))
    return path




def wait_finished(site: Path, job_id: str | None = None, timeout: float = 90.0) -> dict:
    def done():
        st = read_status(site, "montecarlo")
        if st and st["state"] in FINISHED and (job_id is None or st["job_id"] == job_id):
            return st
        return None

    return wait_for(done, timeout, step=0.05)


def run_runner(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytaaa.jobs.montecarlo", *args],
                          capture_output=True, text=True, timeout=120, env=env)


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """Make ``path`` unwritable for real: chmod, and as root the immutable attribute."""
    path.chmod(0o444)
    flagged = False
    try:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "+i", str(path)], check=True)
            flagged = True
        else:
            path.parent.chmod(0o555)
        with pytest.raises(OSError):
            os.replace(path, path.with_name(path.name + ".moved"))
        yield
    finally:
        if flagged:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.parent.chmod(0o755)
        path.chmod(0o644)


def outputs(cfg) -> dict[str, bytes]:
    return {name: (cfg.performance_store / name).read_bytes() for name in DATA_FILES}


# ---- the runner's command line; ERR-01..05: bad config, missing store ---------------------------------------------


def test_runner_needs_json_file_and_valid_numbers(tmp_path: Path) -> None:
    proc = run_runner()
    assert proc.returncode == 2 and "--json-file" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run_runner("--json-file", str(tmp_path / "x.json"), "--trials", "0")
    assert proc.returncode == 2 and "at least 1" in proc.stderr


BAD_CONFIGS = {
    "err01_missing": (None, "config file not found"),
    "err02_invalid": ("numberStocksTraded", "Valuation.numberStocksTraded: \"seven\" is invalid"),
    "err03_malformed": ('{"Valuation": {"stockList": "Naz100",,}}', "malformed JSON at line 1"),
    "err05_missing_key": ("LongPeriod", "Valuation.LongPeriod: missing required key"),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_err01_02_03_05_bad_config_exits_2_with_one_clear_message(
    base_config: Path, tmp_path: Path, case: str
) -> None:
    site = tmp_path / "web"
    what, expect = BAD_CONFIGS[case]
    cfg = tmp_path / "pytaaa.json"
    if case == "err03_malformed":
        cfg.write_text(what)
    elif case == "err02_invalid":
        make_config(base_config, tmp_path, numberStocksTraded="seven")
    elif case == "err05_missing_key":
        make_config(base_config, tmp_path, drop=(what,))
    proc = run_runner("--json-file", str(cfg), "--webpage", str(site))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    bad = [ln for ln in proc.stdout.splitlines() if "\u2717 Bad config" in ln]
    assert len(bad) == 1 and expect in bad[0] and str(cfg) in bad[0]
    st = read_status(site, "montecarlo")
    assert st["state"] == "failed" and st["exit_code"] == 2 and expect in st["message"]
    assert lock_is_free(JobPaths(site, "montecarlo").lock)


def test_err04_missing_store_exits_2_and_writes_nothing(base_config: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    path = make_config(base_config, tmp_path, symbols_file=str(tmp_path / "empty" /
                                                              "naz100_symbols.txt"))
    cfg = load_config(path)
    proc = run_runner("--json-file", str(path))
    assert proc.returncode == 2 and "Traceback" not in proc.stdout + proc.stderr
    line = [ln for ln in proc.stdout.splitlines() if "\u2717" in ln]
    assert len(line) == 1 and "Naz100_Symbols_.hdf5" in line[0] and "pytaaa data" in line[0]
    st = read_status(cfg.webpage, "montecarlo")
    assert st["state"] == "failed" and st["exit_code"] == 2
    res = start_montecarlo(cfg, sync=True, now=NOW)  # the same job code in this process
    assert res.mode == "sync" and res.exit_code == 2 and "file not found" in res.reason
    assert not cfg.performance_store.exists() or not any(cfg.performance_store.iterdir())
    assert not (cfg.webpage / MAIN_PNG).exists()


# ---- sync: in-process, E2E-05 log, status -------------------------------------------------------------


def test_sync_runs_in_process_logs_each_trial_and_writes_pngs_last(base_config: Path,
                                                                  tmp_path: Path) -> None:
    cfg = load_config(make_config(base_config, tmp_path, async_montecarlo_backtest=False))
    res = start_montecarlo(cfg, now=NOW)  # mode from config: false -> sync
    assert res.mode == "sync" and res.exit_code == 0 and res.ok
    assert (res.trials, res.done, res.failed) == (3, 3, 0)
    st = read_status(cfg.webpage, "montecarlo")
    assert st["state"] == "succeeded" and st["pid"] == os.getpid() and not st["detached"]
    assert (st["total"], st["done"], st["failed"]) == (3, 3, 0) and st["job_id"] == res.job_id
    log = (cfg.webpage / LOG_NAME).read_text()
    for text in (f"Config: {cfg.path}", "trials: 3 (montecarlo_trials)", "Workers: 2, seed: 0",
                 "Platform: ", "Total time:", "Monte Carlo backtest COMPLETED"):
        assert text in log
    assert "\u2717" not in log and "Traceback" not in log
    trial_lines = [ln for ln in log.splitlines() if " complete: CAGR " in ln]
    assert [ln.split("] ")[1].split(":")[0] for ln in trial_lines] == [
        "Trial 1/3 complete", "Trial 2/3 complete", "Trial 3/3 complete"]
    assert all(" %, Sharpe " in ln for ln in trial_lines)
    assert all(ln.startswith("[") and ln[9] == "]" for ln in log.splitlines())
    for name in DATA_FILES:
        assert f"{name} written" in log
    for name in (MAIN_PNG, RECENT_PNG):
        assert f"{name} created" in log
    newest_data = max((cfg.performance_store / n).stat().st_mtime_ns for n in DATA_FILES)
    assert (cfg.webpage / MAIN_PNG).stat().st_mtime_ns >= newest_data
    csv = (cfg.performance_store / MC_CSV_FILE).read_text().splitlines()
    assert csv[0].startswith("date,trial,LongPeriod,numberStocksTraded,monthsToHold,MA1,MA2,MA3")
    assert "beats_buyhold" in csv[0] and [r.split(",")[1] for r in csv[1:]] == ["0", "1", "2"]
    bt = (cfg.performance_store / MC_PARAMS_FILE).read_text().splitlines()
    assert len(bt[0].split()) == 5 and len(
        (cfg.performance_store / PCTLONG_FILE).read_text().splitlines()[0].split()) == 5


# ---- async: returns at once, mode default, E2E-03 byte-identical ---------------------------------------


@pytest.mark.slow
def test_async_returns_at_once_and_matches_sync_byte_for_byte(base_config: Path,
                                                              tmp_path: Path) -> None:
    one = load_config(make_config(base_config, tmp_path / "sync1", montecarlo_workers=1))
    assert start_montecarlo(one, sync=True, now=NOW).exit_code == 0
    two = load_config(make_config(base_config, tmp_path / "sync2", montecarlo_workers=2))
    assert start_montecarlo(two, sync=True, now=NOW).exit_code == 0
    # async from the config's default (the key absent means true)
    path = make_config(base_config, tmp_path / "async", drop=("async_montecarlo_backtest",))
    assert "async_montecarlo_backtest" not in json.loads(path.read_text())["Valuation"]
    cfg = load_config(path)
    res = start_montecarlo(cfg, now=NOW)
    st = read_status(cfg.webpage, "montecarlo")  # None until the job or the launcher writes it
    alive = psutil.Process(res.pid).status() != psutil.STATUS_ZOMBIE
    assert res.mode == "async" and res.pid and res.pid != os.getpid()
    assert alive and (st is None or st["state"] not in FINISHED)  # returned before the job ended
    assert not (cfg.webpage / MAIN_PNG).exists()
    st = wait_finished(cfg.webpage, res.job_id)
    assert st["state"] == "succeeded" and st["exit_code"] == 0 and st["detached"]
    assert st["pid"] == res.pid and (st["total"], st["done"]) == (3, 3)
    assert outputs(one) == outputs(two) == outputs(cfg)
    assert (cfg.webpage / MAIN_PNG).exists() and (cfg.webpage / RECENT_PNG).exists()
    log = (cfg.webpage / LOG_NAME).read_text()
    assert "PyTAAA Background Monte Carlo Backtest Started" in log and "COMPLETED" in log
    wait_for(lambda: not psutil.pid_exists(res.pid), timeout=20)  # reaped: no zombie


# ---- freshness ------------------------------------------------------------------------------------------


def test_freshness_fresh_does_nothing_stale_or_missing_runs(base_config: Path,
                                                           tmp_path: Path) -> None:
    cfg = load_config(make_config(base_config, tmp_path, montecarlo_freshness_hours=20))
    png = cfg.webpage / MAIN_PNG
    assert is_stale(cfg, NOW) and png_age_hours(cfg, NOW) is None  # missing
    cfg.webpage.mkdir(parents=True)
    png.write_bytes(b"old")
    for hours, stale in ((1.0, False), (19.9, False), (20.0, True), (30.0, True)):
        ts = NOW.timestamp() - hours * 3600
        os.utime(png, (ts, ts))
        assert is_stale(cfg, NOW) is stale
        assert png_age_hours(cfg, NOW) == pytest.approx(hours)
    ts = NOW.timestamp() - 3600
    os.utime(png, (ts, ts))
    res = start_montecarlo(cfg, sync=True, now=NOW)
    assert res.mode == "skipped" and "fresher than montecarlo_freshness_hours" in res.reason
    assert not (cfg.webpage / LOG_NAME).exists() and read_status(cfg.webpage, "montecarlo") is None
    res = start_montecarlo(cfg, sync=True, now=NOW, force=True, trials=1)  # --force
    assert res.mode == "sync" and res.exit_code == 0 and png.read_bytes()[:4] == b"\x89PNG"
    old = NOW.timestamp() - 25 * 3600
    os.utime(png, (old, old))
    res = start_montecarlo(cfg, sync=True, now=NOW, trials=1)  # stale
    assert res.mode == "sync" and res.exit_code == 0 and png.stat().st_mtime > old + 3600


# ---- supersede --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_new_job_supersedes_the_running_one(base_config: Path, tmp_path: Path) -> None:
    cfg = load_config(make_config(base_config, tmp_path, montecarlo_workers=1,
                                  job_cancel_grace_seconds=3.0))
    first = start_montecarlo(cfg, sync=False, now=NOW, trials=400)
    wait_for(lambda: (read_status(cfg.webpage, "montecarlo") or {}).get("done", 0) >= 2)
    second = start_montecarlo(cfg, sync=False, now=NOW, trials=2, force=True)
    assert second.mode == "async" and second.pid != first.pid
    wait_for(lambda: not psutil.pid_exists(first.pid), timeout=30)
    st = wait_finished(cfg.webpage, second.job_id)
    assert st["state"] == "succeeded" and (st["total"], st["done"]) == (2, 2)
    old = (cfg.webpage / (LOG_NAME + ".1")).read_text()
    assert f"Job id: {first.job_id}" in old and "CANCELLED" in old
    new = (cfg.webpage / LOG_NAME).read_text()
    assert f"Superseding running montecarlo job {first.job_id}" in new
    assert len(load_csv_rows(cfg)) == 2


def load_csv_rows(cfg) -> list[str]:
    return (cfg.performance_store / MC_CSV_FILE).read_text().splitlines()[1:]


# ---- ERR-06..08: a crashing trial, spawn failure, unwritable log; a failing chart -----------------------------------------


def test_err06_a_trial_that_crashes_fails_alone(base_config: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config(make_config(base_config, tmp_path))
    monkeypatch.setenv(FAIL_TRIAL_ENV, "1")
    res = start_montecarlo(cfg, sync=False, now=NOW)
    assert res.mode == "async"
    st = wait_finished(cfg.webpage, res.job_id)
    assert st["state"] == "failed" and st["exit_code"] == 1
    assert (st["done"], st["failed"]) == (3, 1) and st["errors"][0]["item"] == "trial 1"
    log = (cfg.webpage / LOG_NAME).read_text()
    bad = [ln for ln in log.splitlines() if "\u2717" in ln]
    assert len(bad) == 1 and "(#1) failed: RuntimeError: failure injected" in bad[0]
    assert "Traceback" not in log and "FINISHED WITH ERRORS" in log
    assert [r.split(",")[1] for r in load_csv_rows(cfg)] == ["0", "2"]  # the others are kept
    assert (cfg.webpage / MAIN_PNG).exists()


def test_err07_spawn_failure_is_reported_and_leaves_nothing(base_config: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config(make_config(base_config, tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    res = start_montecarlo(cfg, sync=False, now=NOW)
    assert res.mode == "failed" and not res.ok and "cannot start" in res.reason
    assert "no-such-python" in res.reason
    paths = JobPaths(cfg.webpage, "montecarlo")
    assert list(paths.spool_dir.iterdir()) == [] and lock_is_free(paths.lock)
    assert read_status(cfg.webpage, "montecarlo") is None


def test_err08_unwritable_log_spares_the_caller(base_config: Path, tmp_path: Path) -> None:
    cfg = load_config(make_config(base_config, tmp_path))
    cfg.webpage.mkdir(parents=True)
    log_path = cfg.webpage / LOG_NAME
    log_path.write_text("yesterday\n")
    with immutable(log_path):
        res = start_montecarlo(cfg, sync=False, now=NOW)
        assert res.mode == "failed" and "cannot prepare the job" in res.reason
        res = start_montecarlo(cfg, sync=True, now=NOW)
        assert res.mode == "failed" and f"cannot open the log {log_path}" in res.reason
    assert log_path.read_text() == "yesterday\n"
    assert not (cfg.webpage / MAIN_PNG).exists()


def test_a_chart_that_cannot_be_written_fails_the_job_after_the_data_files(
    base_config: Path, tmp_path: Path
) -> None:
    cfg = load_config(make_config(base_config, tmp_path))
    (cfg.webpage / MAIN_PNG).mkdir(parents=True)  # a folder in the way of the PNG
    res = start_montecarlo(cfg, sync=True, now=NOW, force=True)
    assert res.mode == "sync" and res.exit_code == 1 and "job error" in res.reason
    assert all((cfg.performance_store / n).stat().st_size > 0 for n in DATA_FILES)
    log = (cfg.webpage / LOG_NAME).read_text()
    assert "\u2717 job error: IsADirectoryError" in log and "Traceback" not in log
    assert list(cfg.webpage.glob(".PyTAAA_*")) == []  # no temporary PNG left
    assert read_status(cfg.webpage, "montecarlo")["state"] == "failed"


# ---- E2E-04: the page refers to both PNGs before they exist ----------------------------------------------


def test_e2e04_daily_run_page_refers_to_pngs_before_they_exist(base_config: Path,
                                                               tmp_path: Path) -> None:
    from pytaaa.pipeline import daily_run

    cfg = load_config(make_config(base_config, tmp_path))
    paths = JobPaths(cfg.webpage, "montecarlo")
    paths.webpage.mkdir(parents=True)
    paths.ensure_state_dirs()
    hold = JobLock(paths.lock)  # keeps the job waiting: its PNGs cannot exist yet
    assert hold.try_acquire()
    try:
        result = daily_run(cfg, send_email=False, charts=False, now=NOW)
        assert result.montecarlo.mode == "async"  # the run did not wait for the job
        html = (cfg.webpage / "pyTAAAweb.html").read_text()
        for name in (MAIN_PNG, RECENT_PNG):
            assert name in html and not (cfg.webpage / name).exists()
        assert psutil.pid_exists(result.montecarlo.pid)
    finally:
        hold.release()
    st = wait_finished(cfg.webpage, result.montecarlo.job_id)
    assert st["state"] == "succeeded"
    assert (cfg.webpage / MAIN_PNG).exists() and (cfg.webpage / RECENT_PNG).exists()
    # trial 0 is the daily run: same backtest file, line for line
    daily = (cfg.performance_store / "pyTAAAweb_backtestPortfolioValue.params").read_bytes()
    assert (cfg.performance_store / MC_PARAMS_FILE).read_bytes() == daily


# ---- REG-07: no zombies from a long-lived parent; the CLI ---------------------------------------------------

PARENT = """
import sys, time, datetime as dt, psutil
from pytaaa.config import load_config
from pytaaa.montecarlo.start import start_montecarlo
from pytaaa.jobs.status import read_status
cfg = load_config(sys.argv[1])
pids = []
for i in range(3):
    res = start_montecarlo(cfg, sync=False, force=True, trials=1)
    pids.append(res.pid)
    while True:
        st = read_status(cfg.webpage, "montecarlo")
        if st and st["job_id"] == res.job_id and st["state"] in ("succeeded", "failed"):
            break
        time.sleep(0.05)
time.sleep(1.0)
me = psutil.Process()
zombies = [c.pid for c in me.children() if c.status() == psutil.STATUS_ZOMBIE]
alive = [p for p in pids if psutil.pid_exists(p)]
print("ZOMBIES", len(zombies), "ALIVE", len(alive), "JOBS", len(set(pids)), flush=True)
"""


@pytest.mark.slow
def test_reg07_no_zombies_after_several_runs_from_one_parent(base_config: Path,
                                                             tmp_path: Path) -> None:
    path = make_config(base_config, tmp_path)
    proc = subprocess.run([sys.executable, "-c", PARENT, str(path)], capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert "ZOMBIES 0 ALIVE 0 JOBS 3" in proc.stdout


@pytest.mark.slow
def test_montecarlo_command(base_config: Path, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pytaaa", "montecarlo", "--json",
                           str(tmp_path / "none.json")], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and "config file not found" in proc.stderr
    path = make_config(base_config, tmp_path)
    proc = subprocess.run([sys.executable, "-m", "pytaaa", "montecarlo", "--json", str(path),
                           "--sync", "--trials", "2", "--workers", "1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Monte Carlo: 2 of 2 trials done, 0 failed" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "pytaaa", "montecarlo", "--json", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "Monte Carlo: skipped:" in proc.stdout  # fresh now
