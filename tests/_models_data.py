"""A switching workspace for the model-switching tests (tests/models, tests/site, tests/cli)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from pytaaa.config import load_config
from pytaaa.engine.analysis import analyze
from pytaaa.engine.outputs import write_outputs


def late_model_file(path: Path, dates: np.ndarray, start: int) -> None:
    """A hand-made model backtest file from ``dates[start]`` on, rising 0.15 % a day."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(dates) - start
    v = 10_000.0 * np.cumprod(np.full(n, 1.0015))
    path.write_text("".join(f"{d} 10000.00 {x:.2f} 0.0 0.0\n" for d, x in zip(dates[start:], v)))


def make_switching_workspace(root: Path, synth_workspace: Path, account_cfg: Path) -> Path:
    """Account = ``account_cfg``'s workspace with a models section: model ``alpha`` (a
    real model: its config and backtest file), ``beta`` (a hand-made file starting
    500 days late) and ``gone`` (no file).  The holdings file follows ``alpha``.
    Returns the switching config's path."""
    alpha = root / "models" / "alpha"
    shutil.copytree(synth_workspace.parent, alpha)
    alpha_cfg = load_config(alpha / synth_workspace.name)
    analysis = analyze(alpha_cfg)
    write_outputs(analysis, alpha_cfg.performance_store, alpha_cfg.webpage)
    late_model_file(root / "models" / "beta" / "data_store" /
                    "pyTAAAweb_backtestPortfolioValue.params", analysis.dates, 500)
    data = json.loads(account_cfg.read_text())
    data["models"] = {"base_folder": str(root / "models"),
                      "model_choices": {"cash": "", "alpha": str(alpha / synth_workspace.name),
                                        "beta": "{base_folder}/beta/data_store/{data_file}",
                                        "gone": "{base_folder}/gone/data_store/{data_file}"}}
    data["recommendation_mode"] = {"default_lookbacks": [20, 60]}
    path = account_cfg.parent / "pytaaa_model_switching_params.json"
    path.write_text(json.dumps(data, indent=2))
    holdings = account_cfg.parent / "performance" / "PyTAAA_holdings.params"
    holdings.write_text(holdings.read_text() + "\ntrading_model: beta\ntrading_model: alpha\n")
    return path
