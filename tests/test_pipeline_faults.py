"""The daily run under faults, with real processes: overlapping runs of one config keep every
ledger line, failed charts give exit 1, unusable folders and a full disk name the path, stale
temporaries of a killed writer are removed."""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytaaa.config import load_config
from pytaaa.data.synth import write_workspace
from pytaaa.pipeline import daily_run

PYTAAA = [sys.executable, "-m", "pytaaa"]


def small_workspace(tmp_path: Path, **overrides) -> Path:
    base = {"montecarlo_trials": 2, "montecarlo_workers": 1, "plot_generation_workers": 1,
            "async_plot_generation": False, "async_montecarlo_backtest": False}
    base.update(overrides)
    return write_workspace(tmp_path / "ws", n_symbols=8, years=4.0, seed=5, config_overrides=base)


def run_cli(cfg: Path, *args: str, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*PYTAAA, "run", "--json", str(cfg), "--no-email", *args],
                          capture_output=True, text=True, timeout=timeout, **kw)


@pytest.mark.slow
def test_overlapping_runs_keep_every_status_and_diagnostic_line(tmp_path: Path) -> None:
    cfg = small_workspace(tmp_path, plot_generation_hours=[])
    assert run_cli(cfg).returncode == 0  # Monte Carlo results now fresh: the rounds skip it
    perf = load_config(cfg).performance_store
    rounds, runs = 3, 4
    for _ in range(rounds):
        procs = [subprocess.Popen([*PYTAAA, "run", "--json", str(cfg), "--no-email"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for _ in range(runs)]
        for p in procs:
            _, err = p.communicate(timeout=180)
            assert p.returncode == 0, err
    status = (perf / "PyTAAA_status.params").read_text().splitlines()
    assert status[0] == "[Status]"
    assert len([ln for ln in status if ln.startswith("cumu_value:")]) == 1 + rounds * runs
    diag = (perf / "PyTAAA_diagnostic.params").read_text()
    assert diag.count("diagnostic_time:") == 1 + rounds * runs
    assert "nan" not in diag


def test_a_failed_chart_in_sync_mode_exits_1(tmp_path: Path) -> None:
    cfg_path = small_workspace(tmp_path)
    cfg = load_config(cfg_path)
    cfg.webpage.mkdir(parents=True, exist_ok=True)
    res = daily_run(cfg, sync=True, send_email=False, montecarlo=False)
    assert res.exit_code == 0, res.problems
    victim = sorted(cfg.webpage.glob("0_recent_*.png"))[0]
    victim.unlink()
    victim.mkdir()  # a folder where the chart goes: the rename fails
    proc = run_cli(cfg_path, "--sync", "--force")
    assert proc.returncode == 1, proc.stderr
    assert re.search(r"Charts: \d+ drawn, 0 fresh, 1 failed", proc.stdout)
    assert "problem: charts:" in proc.stdout


@pytest.mark.parametrize("kind", ["file", "loop"])
def test_an_unusable_web_folder_is_named_with_what_was_expected(tmp_path: Path, kind: str) -> None:
    cfg_path = small_workspace(tmp_path)
    web = load_config(cfg_path).webpage
    if web.exists():
        os.rmdir(web)
    if kind == "file":
        web.write_text("not a folder")
        expected = "expected a folder, found a file"
    else:
        web.symlink_to(web.parent / "web2")
        (web.parent / "web2").symlink_to(web)
        expected = "expected a folder, found a symlink that loops or leads nowhere"
    proc = run_cli(cfg_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: cannot create output folder {web}: {expected}")


def test_a_full_disk_names_the_file(tmp_path: Path) -> None:
    cfg_path = small_workspace(tmp_path, plot_generation_hours=[])

    def small_files() -> None:  # every file this process writes is cut at 2 KB: EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))

    proc = run_cli(cfg_path, preexec_fn=small_files)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert re.fullmatch(r"error: cannot write the output file /\S+\.params: File too large "
                        r"\(expected a writable folder with free space\)", last), last
    perf = load_config(cfg_path).performance_store
    assert not list(perf.glob("*.tmp")) and not list(perf.glob(".*.tmp"))


def test_the_run_removes_stale_temporaries_and_keeps_fresh_ones(tmp_path: Path) -> None:
    cfg_path = small_workspace(tmp_path, plot_generation_hours=[])
    cfg = load_config(cfg_path)
    cfg.webpage.mkdir(parents=True, exist_ok=True)
    stale = cfg.webpage / ".pyTAAAweb_symbolCharts_TodayRank.html.a1b2c3d4.tmp"
    fresh = cfg.performance_store / ".PyTAAA_status.params.zzzzzzzz.tmp"
    for p in (stale, fresh):
        p.write_bytes(b"<" * 16384)
    old = time.time() - 86400
    os.utime(stale, (old, old))
    res = daily_run(cfg, sync=True, send_email=False, montecarlo=False)
    assert res.exit_code == 0, res.problems
    assert not stale.exists() and fresh.exists()


def test_huge_holdings_amounts_end_quickly_with_a_clear_problem(tmp_path: Path) -> None:
    cfg_path = small_workspace(tmp_path, plot_generation_hours=[])
    perf = load_config(cfg_path).performance_store
    for shares in ("1e18", "1e308"):
        (perf / "PyTAAA_holdings.params").write_text(
            f"[Holdings]\nTradeDate: 2020-01-02\nstocks: CASH\nshares: {shares}\n"
            "buyprice: 1\ncumulativecashin: 1000\n")
        t0 = time.monotonic()
        proc = run_cli(cfg_path, timeout=60)
        assert time.monotonic() - t0 < 30
        assert "Traceback" not in proc.stderr
        assert f"key 'shares': '{shares}' must be a number between 0 and 1e+12" in proc.stdout
        assert proc.returncode == 1


def _check_outputs_parse(cfg_path: Path) -> None:
    from html.parser import HTMLParser

    cfg = load_config(cfg_path)
    status = (cfg.performance_store / "PyTAAA_status.params").read_text().splitlines()
    assert status[0] == "[Status]"
    for line in status[1:]:
        assert re.fullmatch(r"cumu_value: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} \d+\.\d\d [01] "
                            r"\d+\.\d\d", line), line
    diag = (cfg.performance_store / "PyTAAA_diagnostic.params").read_text()
    assert diag.count("diagnostic_time:") == diag.count("new_prices:") >= 1
    for page in cfg.webpage.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        HTMLParser().feed(text)
        assert text.rstrip().endswith("</html>"), page.name
    for png in list(cfg.webpage.glob("*.png")):
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[-8:-4] == b"IEND", png.name
    for params in cfg.performance_store.glob("*.params"):
        params.read_text(encoding="utf-8")


@pytest.mark.slow
def test_random_sigkills_of_small_runs_leave_parseable_outputs_and_a_working_next_run(
        tmp_path: Path) -> None:
    import random

    cfg_path = small_workspace(tmp_path, plot_generation_workers=2, montecarlo_workers=2)
    t0 = time.monotonic()
    first = run_cli(cfg_path)
    assert first.returncode == 0, first.stderr
    span = time.monotonic() - t0
    rng = random.Random(20261130)
    for _ in range(20):
        proc = subprocess.Popen([*PYTAAA, "run", "--json", str(cfg_path), "--no-email", "--force"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(rng.uniform(0.0, span))
        proc.kill()
        proc.communicate(timeout=30)  # EOF: no helper kept the pipe open
        _check_outputs_parse(cfg_path)
    last = run_cli(cfg_path)
    assert last.returncode == 0, last.stderr
    _check_outputs_parse(cfg_path)


def test_a_symlinked_0600_status_ledger_is_updated_at_its_target(tmp_path: Path) -> None:
    cfg_path = small_workspace(tmp_path, plot_generation_hours=[])
    cfg = load_config(cfg_path)
    cfg.performance_store.mkdir(parents=True, exist_ok=True)
    target = tmp_path / "private" / "PyTAAA_status.params"
    target.parent.mkdir()
    target.write_text("[Status]\n")
    os.chmod(target, 0o600)
    link = cfg.performance_store / "PyTAAA_status.params"
    link.unlink(missing_ok=True)
    link.symlink_to(target)
    for _ in range(2):
        res = daily_run(cfg, sync=True, send_email=False, montecarlo=False, charts=False)
        assert res.exit_code == 0, res.problems
    assert link.is_symlink()
    assert len(target.read_text().splitlines()) == 3
    assert (target.stat().st_mode & 0o777) == 0o600
