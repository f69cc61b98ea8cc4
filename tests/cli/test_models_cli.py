"""``pytaaa models recommend`` and ``pytaaa models run`` (real processes, real files)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _models_data import make_switching_workspace
from click.testing import CliRunner

from pytaaa.cli.app import main
from pytaaa.config import load_config


@pytest.fixture
def switching_config(tmp_path: Path, synth_workspace: Path, workspace_copy: Path) -> Path:
    return make_switching_workspace(tmp_path, synth_workspace, workspace_copy)


def quiet(cfg_path: Path) -> None:
    """No per-symbol charts (empty generation window) and a fresh Monte Carlo chart,
    so a daily run of ``cfg_path`` starts no background job."""
    data = json.loads(cfg_path.read_text())
    data["Valuation"]["plot_generation_hours"] = []
    cfg_path.write_text(json.dumps(data))
    web = load_config(cfg_path).webpage
    web.mkdir(parents=True, exist_ok=True)
    (web / "PyTAAA_monteCarloBacktest.png").write_bytes(b"fresh")


def test_recommend_prints_the_table(switching_config: Path) -> None:
    res = CliRunner().invoke(main, ["models", "recommend", "--json", str(switching_config)])
    assert res.exit_code == 0, res.output
    out = res.output[res.output.index("Model switching:"):]
    assert "Model switching: beta recommended" in out and "you follow alpha" in out
    assert "L=20" in out and "L=60" in out and "Sortino" in out
    rows = [ln.split()[:2] for ln in out.splitlines() if ln[:2].strip().isdigit()]
    assert rows[0] == ["1", "beta"] and ["2", "alpha"] in rows or ["3", "alpha"] in rows
    assert "note: model gone: file not found" in out
    early = CliRunner().invoke(main, ["models", "recommend", "--json", str(switching_config),
                                      "--date", "2020-03-02", "--as-json"])
    assert early.exit_code == 0, early.output
    data = json.loads(early.output[early.output.index("{"):])
    assert data["date"] <= "2020-03-02"
    # beta starts later: before its first value it is not a model at all
    assert {r["model"] for r in data["ranking"]} == {"alpha", "cash"}
    assert any("model beta: no values" in w for w in data["warnings"])


@pytest.mark.parametrize("date, message", [("2020-13-01", "expected YYYY-MM-DD"),
                                           ("1980-01-01", "no model has a readable series")])
def test_recommend_bad_date_exits_2(switching_config: Path, date: str, message: str) -> None:
    res = CliRunner().invoke(main, ["models", "recommend", "--json", str(switching_config),
                                    "--date", date])
    assert res.exit_code == 2 and message in res.output


@pytest.mark.slow
def test_models_run_runs_every_model_and_reports_a_failing_one(
        switching_config: Path, tmp_path: Path) -> None:
    data = json.loads(switching_config.read_text())
    alpha_cfg = Path(data["models"]["model_choices"]["alpha"])
    broken = tmp_path / "models" / "broken"
    shutil.copytree(alpha_cfg.parent, broken)
    for store in (broken / "data").glob("*.hdf5"):
        store.unlink()
    data["models"]["model_choices"]["broken"] = str(broken / alpha_cfg.name)
    switching_config.write_text(json.dumps(data))
    for cfg in (alpha_cfg, broken / alpha_cfg.name, switching_config):
        quiet(cfg)
    alpha_bt = load_config(alpha_cfg).performance_store / "pyTAAAweb_backtestPortfolioValue.params"
    alpha_bt.unlink()
    res = subprocess.run([sys.executable, "-m", "pytaaa", "models", "run", "--json",
                          str(switching_config), "--no-email", "--workers", "2"],
                         capture_output=True, text=True, timeout=300)
    out = res.stdout
    assert res.returncode == 1, res.stderr[-2000:]
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.split()}
    assert " ok " in lines["alpha"] and "exit 0" in lines["alpha"]
    assert "failed" in lines["broken"] and "exit 2" in lines["broken"]
    assert "quote store" in lines["broken"]
    assert "skipped" in lines["beta"] and "no config" in lines["beta"]
    assert "1 of 2 models with a config ran, 1 failed" in out
    assert alpha_bt.exists()                      # alpha's run wrote its file again
    assert "Model switching:" in out
    summary = json.loads((load_config(switching_config).webpage / "run_summary.json").read_text())
    assert summary["model_switching"]["followed"] == "alpha"
