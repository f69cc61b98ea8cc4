"""The charts job end to end (seed 000: E2E-01..13, ERR-01..10, INT-07..09, NFR1).

Inputs come from real synthetic workspaces through the real analysis and
:func:`build_chart_inputs`; jobs are real detached processes with real worker
pools; faults are real (damaged hand-off files, missing and read-only folders,
a kernel write error, SIGKILLed workers and jobs, SIGTERM).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from _helpers import wait_for

from pytaaa.charts.inputs import ChartJobInputs, build_chart_inputs, handoff_payload
from pytaaa.charts.start import start_charts
from pytaaa.charts.symbol import chart_filename
from pytaaa.config import load_config
from pytaaa.data.store import read_company_names
from pytaaa.data.synth import write_workspace
from pytaaa.engine.analysis import analyze
from pytaaa.jobs.handoff import write_handoff
from pytaaa.jobs.lock import lock_is_free
from pytaaa.jobs.paths import JobPaths
from pytaaa.jobs.status import read_status

NOW = dt.datetime(2026, 11, 20, 3, 15, 0)
FINISHED = {"succeeded", "failed", "cancelled", "died"}
PNG_SIG = b"\x89PNG\r\n\x1a\n"


# ---- fixtures and helpers -------------------------------------------------------------


class Universe:
    """A synthetic workspace, its config and analysis, and chart inputs for any folder."""

    def __init__(self, folder: Path, n_symbols: int, years: float, method: str) -> None:
        self.config_path = write_workspace(folder, n_symbols=n_symbols, years=years, seed=1,
                                           method=method)
        self.config = load_config(self.config_path)
        self.analysis = analyze(self.config)
        self.companies = read_company_names(self.config.symbols_file)

    def setup(self, site: Path, **valuation) -> tuple[object, ChartJobInputs]:
        config = self.config.with_valuation(webpage=str(site), **valuation)
        return config, build_chart_inputs(config, self.analysis, self.companies)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Universe:
    return Universe(tmp_path_factory.mktemp("small"), 12, 2.5, "HMAs")


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Universe:
    return Universe(tmp_path_factory.mktemp("big"), 100, 2.0, "HMAs")


@pytest.fixture(scope="module")
def pct(tmp_path_factory) -> Universe:
    return Universe(tmp_path_factory.mktemp("pct"), 6, 2.5, "percentileChannels")


def expected_names(inputs: ChartJobInputs) -> set[str]:
    return {chart_filename(s, k) for s in inputs.symbols for k in ("full", "recent")}


def pngs(site: Path) -> set[str]:
    return {p.name for p in site.glob("0_*.png")}


def png_ok(path: Path) -> tuple[int, int]:
    """The (width, height) of a complete PNG; fails on a truncated or non-PNG file."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIG and data[12:16] == b"IHDR", path
    assert data[-8:-4] == b"IEND", f"{path} is truncated"
    return struct.unpack(">II", data[16:24])


def wait_finished(site: Path, kind: str = "charts", timeout: float = 180.0,
                  job_id: str | None = None) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = read_status(site, kind)
        if st and st["state"] in FINISHED and job_id in (None, st["job_id"]):
            return st
        time.sleep(0.1)
    raise AssertionError(f"job did not finish: {read_status(site, kind)}")




def _cmd(p: psutil.Process) -> str:
    try:
        return " ".join(p.cmdline())
    except psutil.Error:
        return ""


def worker_procs(job_pid: int) -> list[psutil.Process]:
    """The pool workers of a job: children of its fork server (or spawned children)."""
    try:
        job = psutil.Process(job_pid)
        out = []
        for child in job.children():
            cmd = _cmd(child)
            if "forkserver" in cmd:
                out += child.children()
            elif "spawn_main" in cmd:
                out.append(child)
        return out
    except psutil.Error:
        return []


@contextlib.contextmanager
def unwritable(folder: Path) -> Iterator[None]:
    """Make ``folder`` unwritable for real (chmod; as root, the immutable attribute)."""
    folder.chmod(0o555)
    immutable = False
    try:
        if os.access(folder, os.W_OK) and os.geteuid() == 0:
            subprocess.run(["chattr", "+i", str(folder)], check=True)
            immutable = True
        with pytest.raises(OSError):
            (folder / "probe").write_text("x")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def run_job(data_file: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytaaa.jobs.charts", "--data-file", str(data_file), *extra],
        capture_output=True, text=True, timeout=120, env=env,
    )


# ---- E2E: sync, async, workers, freshness, methods ---------------------------------------


def test_e2e01_sync_small_draws_every_chart_and_logs_it(small: Universe, tmp_path: Path) -> None:
    site = tmp_path / "web"
    config, inputs = small.setup(site, plot_generation_workers=2)
    res = start_charts(config, inputs, sync=True, now=NOW)
    assert res.mode == "sync" and res.exit_code == 0
    assert res.created == 24 and res.skipped == 0 and res.failed == 0
    assert pngs(site) == expected_names(inputs)
    for p in site.glob("0_*.png"):
        assert png_ok(p) == (1350, 750) and p.stat().st_size > 5000
    st = read_status(site, "charts")
    assert st["state"] == "succeeded" and st["done"] == st["total"] == 24 and st["exit_code"] == 0
    text = (site / "plot_generation.log").read_text()
    assert "Max workers: 2" in text and "Phase 1 complete: 12 created, 0 skipped, 0 errors" in text
    assert "Phase 2 complete: 12 created, 0 skipped, 0 errors" in text
    assert "Total plots: 24 created, 0 skipped, 0 errors" in text and "Total time:" in text
    for s in inputs.symbols:
        assert f"\u2713 {s} (full history)" in text and f"\u2713 {s} (recent)" in text
    assert "CASH" not in inputs.symbols and not (site / "0_CASH.png").exists()
    assert list((site / ".pytaaa" / "spool").iterdir()) == []


@pytest.mark.slow
def test_e2e03_async_returns_at_once_then_the_job_draws_everything(
    small: Universe, tmp_path: Path
) -> None:
    site = tmp_path / "web"
    config, inputs = small.setup(site, async_plot_generation=True)
    res = start_charts(config, inputs, now=NOW)
    assert res.mode == "async" and res.pid
    # returned before the job finished: it has not even drawn its first chart
    assert psutil.pid_exists(res.pid) and pngs(site) == set()
    st = wait_for(lambda: read_status(site, "charts"), timeout=10)
    assert st["state"] in ("queued", "running", "succeeded") and st["job_id"] == res.job_id
    st = wait_finished(site, job_id=res.job_id)
    assert st["state"] == "succeeded" and st["created"] == 24 and st["job_id"] == res.job_id
    assert pngs(site) == expected_names(inputs)
    log = (site / "plot_generation.log").read_text()
    for line in ("PyTAAA Background Plot Generation Started", f"Job id: {res.job_id}",
                 "Max workers: 2", "Data loaded: 12 symbols", "hand-off file removed",
                 "Phase 1: Generating full history plots...", "Phase 1 complete: 12 created",
                 "Phase 2 complete: 12 created", "Background plot generation COMPLETED",
                 "Total plots: 24 created, 0 skipped, 0 errors"):
        assert line in log, line
    assert sum("\u2713" in ln for ln in log.splitlines()) == 24
    assert all(ln[0] == "[" and ln[9:11] == "] " for ln in log.splitlines())
    assert list((site / ".pytaaa" / "spool").iterdir()) == []
    wait_for(lambda: not psutil.pid_exists(res.pid), timeout=20)  # reaped: no zombie


@pytest.mark.slow
def test_e2e02_04_full_universe_sync_and_async_write_identical_files(
    big: Universe, tmp_path: Path
) -> None:
    a_site, s_site = tmp_path / "async", tmp_path / "sync"
    config, a_inputs = big.setup(a_site)
    res = start_charts(config, a_inputs, sync=False, now=NOW)
    assert res.mode == "async"
    config_s, s_inputs = big.setup(s_site)
    sres = start_charts(config_s, s_inputs, sync=True, now=NOW)
    assert sres.exit_code == 0 and sres.created == 200
    st = wait_finished(a_site)
    assert st["state"] == "succeeded" and st["created"] == 200
    assert pngs(a_site) == pngs(s_site) == expected_names(a_inputs)
    for name in pngs(s_site):
        assert (a_site / name).read_bytes() == (s_site / name).read_bytes(), name


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2, 4, 8])
def test_e2e05_08_never_more_workers_than_configured(
    small: Universe, tmp_path: Path, workers: int
) -> None:
    site = tmp_path / "web"
    config, inputs = small.setup(site, plot_generation_workers=workers)
    res = start_charts(config, inputs, sync=False, now=NOW)
    seen: set[int] = set()
    most = 0
    while True:
        procs = worker_procs(res.pid)
        seen |= {p.pid for p in procs}
        most = max(most, len(procs))
        st = read_status(site, "charts")
        if st and st["state"] in FINISHED:
            break
        time.sleep(0.02)
    assert st["state"] == "succeeded" and st["workers"] == workers
    assert 1 <= most <= workers
    assert len(seen) <= workers  # no worker was ever replaced or added
    assert pngs(site) == expected_names(inputs)


def test_e2e09_10_11_freshness_all_stale_all_fresh_mixed(small: Universe, tmp_path: Path) -> None:
    site = tmp_path / "web"
    config, inputs = small.setup(site, plot_freshness_hours=20)
    first = start_charts(config, inputs, sync=True, now=NOW)
    assert (first.created, first.skipped) == (24, 0)  # E2E-09: nothing there -> all drawn
    again = start_charts(config, inputs, sync=True, now=NOW)
    assert (again.created, again.skipped, again.exit_code) == (0, 24, 0)  # E2E-10
    log = (site / "plot_generation.log").read_text()
    assert "Phase 1 complete: 0 created, 12 skipped, 0 errors" in log
    assert f"\u2013 {inputs.symbols[0]} (recent, fresh)" in log
    # E2E-11: five charts older than 20 hours are redrawn, the others kept
    old = time.time() - 25 * 3600
    stale = sorted(site.glob("0_*.png"))[:5]
    for p in stale:
        os.utime(p, (old, old))
    keep = {p.name: p.stat().st_mtime for p in site.glob("0_*.png") if p not in stale}
    mixed = start_charts(config, inputs, sync=True, now=NOW)
    assert (mixed.created, mixed.skipped) == (5, 19)
    assert all(p.stat().st_mtime > old + 3600 for p in stale)
    assert {p.name: p.stat().st_mtime for p in site.glob("0_*.png") if p not in stale} == keep
    forced = start_charts(config, inputs, sync=True, now=NOW, force=True)
    assert (forced.created, forced.skipped) == (24, 0)


def test_e2e12_13_percentile_channels_are_drawn_other_methods_without(
    pct: Universe, small: Universe, tmp_path: Path
) -> None:
    config, inputs = pct.setup(tmp_path / "with")
    assert inputs.low_channel is not None and inputs.hi_channel is not None
    assert start_charts(config, inputs, sync=True, now=NOW).created == 12
    bare = inputs.with_options(low_channel=None, hi_channel=None, output_dir=tmp_path / "without")
    res = start_charts(config, bare, sync=True, now=NOW)
    assert res.created == 12
    differ = [n for n in pngs(tmp_path / "with")
              if (tmp_path / "with" / n).read_bytes() != (tmp_path / "without" / n).read_bytes()]
    assert len(differ) == 12  # the magenta channels are on every chart
    assert "percentile channels not given" in (tmp_path / "without" / "plot_generation.log").read_text()
    config, inputs = small.setup(tmp_path / "hma")
    assert inputs.low_channel is None
    res = start_charts(config, inputs, sync=True, now=NOW)
    assert res.created == 24 and "channels" not in (tmp_path / "hma" / "plot_generation.log").read_text()


@pytest.mark.slow
def test_charts_command_sync_and_async(small: Universe, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pytaaa.cli.jobs import charts

    cfg = str(small.config_path)
    site = small.config.webpage
    res = CliRunner().invoke(charts, ["--json", cfg, "--sync", "--workers", "2"])
    assert res.exit_code == 0, res.output
    assert "Charts: 24 drawn, 0 fresh, 0 failed" in res.output
    names = pngs(site)
    assert len(names) == 24
    res = CliRunner().invoke(charts, ["--json", cfg, "--async", "--force"])
    assert res.exit_code == 0 and "background job" in res.output
    job_id = res.output.split("background job ")[1].split()[0]
    st = wait_finished(site, job_id=job_id)
    assert st["state"] == "succeeded" and st["created"] == 24
    res = CliRunner().invoke(charts, ["--json", cfg, "--workers", "0"])
    assert res.exit_code == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"Valuation": {"webpage": 3}}')
    res = CliRunner().invoke(charts, ["--json", str(bad)])
    assert res.exit_code == 2 and "Valuation" in res.output


# ---- INT-08/09: the generation window ------------------------------------------------------


def test_int08_09_generation_window_uses_the_injected_clock(small: Universe, tmp_path: Path) -> None:
    site = tmp_path / "web"
    config, inputs = small.setup(site, plot_generation_hours=[1, 2, 3, 4, 5, 6, 7, 11, 12])
    res = start_charts(config, inputs, sync=True, now=NOW.replace(hour=9, minute=30))
    assert res.mode == "skipped" and "hour 9" in res.reason and res.ok
    assert not site.exists()  # nothing started, nothing written
    res = start_charts(config, inputs, sync=False, now=NOW.replace(hour=9))
    assert res.mode == "skipped"
    res = start_charts(config, inputs, sync=True, now=NOW.replace(hour=3))
    assert res.mode == "sync" and res.created == 24


# ---- ERR-01..03: bad hand-off files ------------------------------------------------------------


def _handoff(small: Universe, site: Path, spool: Path, **values):
    config, inputs = small.setup(site)
    payload = handoff_payload(inputs.spec(NOW))
    payload.update(values)
    spool.mkdir(parents=True, exist_ok=True)
    h = write_handoff(spool, "charts", payload, inputs.arrays())
    h.release()
    return h.path, inputs


@pytest.mark.parametrize("damage", ["missing", "truncated", "garbled", "wrong_structure"])
def test_err01_03_bad_handoff_exits_2_with_one_clear_line(
    small: Universe, tmp_path: Path, damage: str
) -> None:
    site = tmp_path / "web"
    spool = site / ".pytaaa" / "spool"
    values = {"symbols": ["ONLY"], "companies": [""]} if damage == "wrong_structure" else {}
    path, _ = _handoff(small, site, spool, **values)
    if damage == "missing":
        path.unlink()
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:1000])
    elif damage == "garbled":
        data = bytearray(path.read_bytes())
        data[len(data) // 2: len(data) // 2 + 100] = bytes(100)
        path.write_bytes(bytes(data))
    proc = run_job(path, "--max-workers", "2")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    bad = [ln for ln in proc.stdout.splitlines() if "\u2717" in ln]
    assert len(bad) == 1 and "Bad hand-off file" in bad[0] and str(path) in bad[0]
    expected = {"missing": "not found", "truncated": "corrupt or truncated",
                "garbled": "corrupt", "wrong_structure": "shape"}[damage]
    assert expected in bad[0]
    assert not path.exists() and list(spool.iterdir()) == []
    st = read_status(site, "charts")
    assert st["state"] == "failed" and st["exit_code"] == 2 and st["message"]
    assert pngs(site) == set()


def test_err_bad_arguments_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pytaaa.jobs.charts"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "--data-file" in proc.stderr
    proc = run_job(tmp_path / "x.npz", "--max-workers", "0")
    assert proc.returncode == 2 and "--max-workers" in proc.stderr


# ---- ERR-04/05: output folder missing or read-only ---------------------------------------------


def test_err04_missing_output_folder_is_created(small: Universe, tmp_path: Path) -> None:
    site = tmp_path / "not" / "yet" / "web"
    config, inputs = small.setup(site)
    res = start_charts(config, inputs, sync=True, now=NOW)
    assert res.exit_code == 0 and pngs(site) == expected_names(inputs)
    path, inputs = _handoff(small, tmp_path / "other" / "web", tmp_path / "spool")
    proc = run_job(path)
    assert proc.returncode == 0, proc.stdout
    assert pngs(tmp_path / "other" / "web") == expected_names(inputs)


def test_err04_output_folder_that_cannot_be_created_exits_1(small: Universe, tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder\n")
    site = blocker / "web"
    path, _ = _handoff(small, site, tmp_path / "spool")
    proc = run_job(path)
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr
    assert f"output folder {site} does not exist and cannot be created" in proc.stdout
    assert not path.exists()
    config, inputs = small.setup(site)
    res = start_charts(config, inputs, sync=True, now=NOW)
    assert res.mode == "failed" and "cannot be created" in res.reason
    res = start_charts(config, inputs, sync=False, now=NOW)
    assert res.mode == "failed" and not res.ok


def test_err05_unwritable_output_folder_exits_1_and_spares_the_caller(
    small: Universe, tmp_path: Path
) -> None:
    site = tmp_path / "web"
    site.mkdir()
    path, _ = _handoff(small, site, tmp_path / "spool")
    config, inputs = small.setup(site)
    with unwritable(site):
        proc = run_job(path)
        assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr
        assert f"output folder {site} is not writable" in proc.stdout
        res = start_charts(config, inputs, sync=False, now=NOW)  # the daily run goes on
        assert res.mode == "failed" and res.reason
        res = start_charts(config, inputs, sync=True, now=NOW)
        assert res.mode == "failed" and "not writable" in res.reason
    assert not path.exists() and pngs(site) == set()


# ---- ERR-06..08: a failing write, a failing import, a failing chart, dying workers -------------


def test_err06_disk_full_at_the_write_fails_one_item_without_partial_file(
    small: Universe, tmp_path: Path, monkeypatch
) -> None:
    site = tmp_path / "web"
    config, inputs = small.setup(site)
    victim = inputs.symbols[3]
    monkeypatch.setenv("PYTAAA_JOB_FAULTS", f"diskfull:{victim}/recent")
    res = start_charts(config, inputs, sync=True, now=NOW)
    assert res.exit_code == 1 and (res.created, res.failed) == (23, 1)
    assert pngs(site) == expected_names(inputs) - {chart_filename(victim, "recent")}
    assert list(site.glob(".*.tmp")) == [] and list(site.glob(".0_*")) == []
    log = (site / "plot_generation.log").read_text()
    assert f"\u2717 {victim} (recent): cannot write 0_recent_{victim}.png: File too large" in log
    assert "Phase 2 complete: 11 created, 0 skipped, 1 errors" in log
    assert "FINISHED WITH ERRORS" in log and "Total plots: 23 created, 0 skipped, 1 errors" in log
    st = read_status(site, "charts")
    assert st["state"] == "failed" and st["errors"][0]["item"] == f"{victim} (recent)"


@pytest.mark.slow
def test_err07_renderer_import_failure_is_reported_by_the_job(
    small: Universe, tmp_path: Path, monkeypatch
) -> None:
    fake = tmp_path / "fakepkgs" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('simulated: matplotlib is broken')\n")
    monkeypatch.setenv("PYTHONPATH", str(fake.parent))
    site = tmp_path / "web"
    config, inputs = small.setup(site)
    res = start_charts(config, inputs, sync=False, now=NOW)
    assert res.mode == "async"
    st = wait_finished(site, job_id=res.job_id)
    assert st["state"] == "failed" and st["exit_code"] == 1
    assert "cannot load the chart renderer" in st["message"] and "simulated" in st["message"]
    assert list((site / ".pytaaa" / "spool").iterdir()) == []
    assert "Traceback" not in (site / "plot_generation.log").read_text()


def test_err08_a_chart_that_raises_fails_alone(small: Universe, tmp_path: Path, monkeypatch) -> None:
    site = tmp_path / "web"
    config, inputs = small.setup(site)
    victim = inputs.symbols[0]
    monkeypatch.setenv("PYTAAA_JOB_FAULTS", f"raise:{victim}/full")
    res = start_charts(config, inputs, sync=True, now=NOW)
    assert res.exit_code == 1 and (res.created, res.failed) == (23, 1)
    assert pngs(site) == expected_names(inputs) - {chart_filename(victim, "full")}
    log = (site / "plot_generation.log").read_text()
    assert f"\u2717 {victim} (full history): RuntimeError: injected fault" in log


@pytest.mark.slow
def test_err08_an_item_that_kills_its_worker_twice_is_failed(
    small: Universe, tmp_path: Path, monkeypatch
) -> None:
    site = tmp_path / "web"
    config, inputs = small.setup(site)
    victim = inputs.symbols[5]
    monkeypatch.setenv("PYTAAA_JOB_FAULTS", f"kill:{victim}/recent")
    res = start_charts(config, inputs, sync=False, now=NOW)
    st = wait_finished(site, job_id=res.job_id)
    assert st["state"] == "failed" and st["exit_code"] == 1 and st["failed"] == 1
    assert st["errors"] == [{"item": f"{victim} (recent)",
                             "message": "its worker process died twice while running it"}]
    assert pngs(site) == expected_names(inputs) - {chart_filename(victim, "recent")}
    assert "A worker process died; restarting the pool" in (site / "plot_generation.log").read_text()
    assert res.mode == "async"


@pytest.mark.slow
def test_err08_a_killed_worker_is_replaced_and_every_chart_produced(
    big: Universe, tmp_path: Path
) -> None:
    site = tmp_path / "web"
    config, inputs = big.setup(site)
    res = start_charts(config, inputs, sync=False, now=NOW)
    victim = wait_for(lambda: worker_procs(res.pid), timeout=60)[0]
    victim.send_signal(signal.SIGKILL)
    st = wait_finished(site, job_id=res.job_id)
    assert st["state"] == "succeeded" and st["exit_code"] == 0 and st["created"] == 200
    assert pngs(site) == expected_names(inputs)
    assert "A worker process died; restarting the pool" in (site / "plot_generation.log").read_text()


# ---- ERR-09/10: killed parent, killed job; SIGTERM ----------------------------------------------

PARENT = r"""
import os, signal, sys, time
from pathlib import Path
from pytaaa.engine.analysis import analyze
from pytaaa.config import load_config
from pytaaa.charts.inputs import build_chart_inputs, handoff_payload
from pytaaa.jobs.handoff import write_handoff
from pytaaa.jobs.paths import JobPaths
from pytaaa.charts.start import start_charts
cfg_path, site, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
config = load_config(cfg_path).with_valuation(webpage=str(site))
inputs = build_chart_inputs(config, analyze(config), {})
if mode == "before-spawn":
    paths = JobPaths(site, "charts")
    site.mkdir(parents=True, exist_ok=True)
    paths.ensure_state_dirs()
    h = write_handoff(paths.spool_dir, "charts", handoff_payload(inputs.spec()), inputs.arrays())
    print("HANDOFF", h.path, flush=True)
    time.sleep(60)
else:
    res = start_charts(config, inputs, sync=False)
    print("SPAWNED", res.pid, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.slow
def test_err09_parent_killed_during_spawn_leaves_no_orphan(small: Universe, tmp_path: Path) -> None:
    site = tmp_path / "web"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(small.config_path), str(site),
                               "before-spawn"], stdout=subprocess.PIPE, text=True)
    line = parent.stdout.readline().split()
    assert line and line[0] == "HANDOFF"
    orphan = Path(line[1])
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    assert orphan.exists() and lock_is_free(JobPaths(site, "charts").lock)  # no half-started job
    config, inputs = small.setup(site)
    res = start_charts(config, inputs, sync=False, now=NOW)
    assert res.mode == "async" and not orphan.exists()
    assert wait_finished(site, job_id=res.job_id)["state"] == "succeeded"
    assert list((site / ".pytaaa" / "spool").iterdir()) == []
    # killed right after the spawn: the detached job carries on alone
    site2 = tmp_path / "web2"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(small.config_path), str(site2),
                               "after-spawn"], stdout=subprocess.PIPE, text=True)
    line = parent.stdout.readline().split()
    assert parent.wait() == -signal.SIGKILL and line[0] == "SPAWNED"
    assert wait_finished(site2)["state"] == "succeeded"
    assert pngs(site2) == expected_names(inputs)
    assert list((site2 / ".pytaaa" / "spool").iterdir()) == []


@pytest.mark.slow
def test_err10_job_killed_mid_run_leaves_valid_pngs_reads_died_next_run_completes(
    big: Universe, tmp_path: Path
) -> None:
    site = tmp_path / "web"
    config, inputs = big.setup(site)
    res = start_charts(config, inputs, sync=False, now=NOW)
    wait_for(lambda: len(pngs(site)) >= 6)
    os.killpg(res.pid, signal.SIGKILL)  # the job, its fork server and its workers
    wait_for(lambda: not psutil.pid_exists(res.pid), timeout=20)
    wait_for(lambda: not worker_procs(res.pid), timeout=20)
    drawn = pngs(site)
    assert 6 <= len(drawn) < 200
    for name in drawn:
        png_ok(site / name)
    st = read_status(site, "charts")
    assert st["state"] == "died" and st["died"]
    again = start_charts(config, inputs, sync=False, now=NOW)
    st = wait_finished(site, job_id=again.job_id)
    assert st["state"] == "succeeded" and st["job_id"] == again.job_id
    assert st["skipped"] == len(drawn) and st["created"] == 200 - len(drawn)
    assert pngs(site) == expected_names(inputs)
    assert list(site.glob(".0_*")) == [] and list((site / ".pytaaa" / "spool").iterdir()) == []


@pytest.mark.slow
def test_sigterm_cancels_the_job_and_its_workers_exit_143(big: Universe, tmp_path: Path) -> None:
    site = tmp_path / "web"
    path, inputs = _handoff(big, site, tmp_path / "spool")
    with open(tmp_path / "job.log", "wb") as out:
        job = subprocess.Popen(
            [sys.executable, "-m", "pytaaa.jobs.charts", "--data-file", str(path),
             "--max-workers", "2", "--grace", "3"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        workers = wait_for(lambda: worker_procs(job.pid), timeout=60)
        wait_for(lambda: len(pngs(site)) >= 2)
        job.send_signal(signal.SIGTERM)
        assert job.wait(30) == 143
        gone, alive = psutil.wait_procs(workers, timeout=3.0)
        assert not alive
    finally:
        job.kill()
        job.wait()
    st = read_status(site, "charts")
    assert st["state"] == "cancelled" and st["exit_code"] == 143 and st["done"] < 200
    assert "CANCELLED: cancelled (SIGTERM)" in (tmp_path / "job.log").read_text()
    for name in pngs(site):
        png_ok(site / name)


# ---- INT-07: concurrent runs --------------------------------------------------------------------


@pytest.mark.slow
def test_int07_two_sites_do_not_interfere_one_site_keeps_one_job(
    small: Universe, big: Universe, tmp_path: Path
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    c1, i1 = small.setup(one)
    c2, i2 = small.setup(two)
    r1 = start_charts(c1, i1, sync=False, now=NOW)
    r2 = start_charts(c2, i2, sync=False, now=NOW)
    s1, s2 = wait_finished(one), wait_finished(two)
    assert s1["state"] == s2["state"] == "succeeded"
    assert (s1["job_id"], s2["job_id"]) == (r1.job_id, r2.job_id)
    assert pngs(one) == pngs(two) == expected_names(i1)
    # same site twice: the second run supersedes the first
    site = tmp_path / "same"
    config, inputs = big.setup(site, job_cancel_grace_seconds=5.0)
    first = start_charts(config, inputs, sync=False, now=NOW)
    wait_for(lambda: len(pngs(site)) >= 2)
    second = start_charts(config, inputs, sync=False, now=NOW, force=True)
    wait_for(lambda: not psutil.pid_exists(first.pid), timeout=30)
    st = wait_finished(site, job_id=second.job_id)
    assert st["state"] == "succeeded" and st["job_id"] == second.job_id and st["created"] == 200
    old_log = (site / "plot_generation.log.1").read_text()
    assert f"Job id: {first.job_id}" in old_log and "CANCELLED: cancelled (SIGTERM)" in old_log
    assert all(ln.startswith("[") for ln in old_log.splitlines())
    new_log = (site / "plot_generation.log").read_text()
    assert f"Superseding running charts job {first.job_id}" in new_log
    assert pngs(site) == expected_names(inputs)
