"""``pytaaa models search`` / ``models apply``: the lookback search as a job, on a
switching config whose models' backtest files are real files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _helpers import wait_for
from test_lookback import make_series

from pytaaa.config import load_config
from pytaaa.data.synth import write_workspace
from pytaaa.jobs.status import read_status
from pytaaa.models.lookback_job import LOG_NAME, start_lookback_search
from pytaaa.models.lookback_out import CSV_NAME, PNG_NAME
from pytaaa.models.settings import read_switching


def switching_workspace(folder: Path, **sections) -> Path:
    cfg_path = write_workspace(folder, n_symbols=6, years=3.0, seed=1)
    series = make_series(n_models=3, years=10.0, seed=2)
    choices = {"cash": ""}
    for i, name in enumerate(series.names):
        if name == "cash":
            continue
        (folder / name).mkdir()
        lines = [f"{d} 10000.0 {v:.2f} 0.0 0.0" for d, v in zip(series.dates, series.values[i])
                 if np.isfinite(v)]
        (folder / name / "pyTAAAweb_backtestPortfolioValue.params").write_text(
            "\n".join(lines) + "\n")
        choices[name] = f"{{base_folder}}/{name}/{{data_file}}"
    doc = json.loads(cfg_path.read_text())
    doc["models"] = {"base_folder": str(folder), "model_choices": choices}
    doc["monte_carlo"] = {"min_lookback": 20, "max_lookback": 90, "max_iterations": 400}
    doc["recommendation_mode"] = {"default_lookbacks": [30, 60, 90]}
    doc.update(sections)
    cfg_path.write_text(json.dumps(doc, indent=1))
    return cfg_path


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytaaa", *args], capture_output=True,
                          text=True, timeout=240)


def test_sync_search_writes_csv_png_and_log_then_apply_a_row(tmp_path: Path) -> None:
    path = switching_workspace(tmp_path, metric_blending={
        "enabled": True, "focus_periods": [{"start": "2009-01-01", "end": "2011-06-30"}]})
    proc = cli("models", "search", "--json", str(path), "--sync", "--seed", "2")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "400 iterations; best lookbacks" in proc.stdout
    cfg = load_config(path)
    rows = (cfg.performance_store / CSV_NAME).read_text().splitlines()
    assert "focus1_normalized" in rows[0] and len(rows) >= 3
    assert rows[1].startswith("0,0,30 60 90,")
    assert (cfg.webpage / PNG_NAME).read_bytes()[:4] == b"\x89PNG"
    log = (cfg.webpage / LOG_NAME).read_text()
    assert all(re.match(r"^\[\d\d:\d\d:\d\d\] ", line) for line in log.splitlines())
    assert "New best at iteration 0: lookbacks 30 / 60 / 90" in log
    assert "focus1 (2009-01-01 .. 2011-06-30, weight 1)" in log
    st = read_status(cfg.webpage, "lookback_search")
    assert st["state"] == "succeeded" and (st["total"], st["done"]) == (400, 400)
    last = len(rows) - 2
    lookbacks = [int(x) for x in rows[-1].split(",")[2].split()]
    proc = cli("models", "apply", "--json", str(path), "--row", str(last))
    assert proc.returncode == 0, proc.stderr
    assert list(read_switching(load_config(path)).lookbacks) == sorted(lookbacks)
    assert len(list(tmp_path.glob("pytaaa.json.*.bak"))) == 1
    proc = cli("models", "apply", "--json", str(path), "--row", "99")
    assert proc.returncode == 2 and "no row 99" in proc.stderr


def test_bad_search_settings_exit_2_with_one_line(tmp_path: Path) -> None:
    path = switching_workspace(tmp_path, metric_blending={"enabled": True})
    proc = cli("models", "search", "--json", str(path), "--sync")
    assert proc.returncode == 2
    st = read_status(load_config(path).webpage, "lookback_search")
    assert st["state"] == "failed" and "enabled blending needs one or two periods" in st["message"]
    assert not (load_config(path).performance_store / CSV_NAME).exists()


@pytest.mark.slow
def test_async_search_runs_detached_and_matches_sync(tmp_path: Path) -> None:
    a = load_config(switching_workspace(tmp_path / "a"))
    b = load_config(switching_workspace(tmp_path / "b"))
    started = start_lookback_search(a, iterations=300, seed=7)
    assert started.mode == "async"
    assert start_lookback_search(b, sync=True, iterations=300, seed=7).exit_code == 0
    st = wait_for(lambda: (s := read_status(a.webpage, "lookback_search")) and
                  s["state"] in ("succeeded", "failed") and s, timeout=180)
    assert st["state"] == "succeeded" and st["job_id"] == started.job_id
    assert (a.performance_store / CSV_NAME).read_bytes() == \
        (b.performance_store / CSV_NAME).read_bytes()
    jobs = cli("jobs", "--json", str(a.path))
    assert "lookback" in jobs.stdout and "succeeded" in jobs.stdout  # the table may fold names
