"""A synthetic multi-model workspace: four models and a switching account.

:func:`write_models_workspace` lays out, under one folder (the ``base_folder``
of the switching config), PyTAAA-style model folders, each a complete
synthetic workspace with its own store, config ``pytaaa_<name>.json``,
``performance`` and ``web`` folders:

==============  ====================  =============================================
model           signal method         universe
==============  ====================  =============================================
``naz100_hma``  HMAs                  synthetic universe, seed 0
``naz100_pi``   SMAs                  the same universe
``naz100_pine`` percentileChannels    the same universe
``sp500_mmc``   minmaxChannels        another universe (seed 1) that starts years later
==============  ====================  =============================================

and ``abacus/pytaaa_model_switching_params.json``: the switching account (its
own holdings, web folder and a ``trading_model:`` line) whose ``models``
section names cash, two models by PyTAAA's data-file template and two by the
path of their config.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from pytaaa._io import atomic_write_text
from pytaaa.data.synth import write_workspace

__all__ = ["DEMO_MODELS", "SWITCHING_CONFIG", "write_models_workspace"]

log = logging.getLogger(__name__)

#: name -> (signal method, seed, years shorter than the others)
DEMO_MODELS: dict[str, tuple[str, int, float]] = {
    "naz100_hma": ("HMAs", 0, 0.0),
    "naz100_pi": ("SMAs", 0, 0.0),
    "naz100_pine": ("percentileChannels", 0, 0.0),
    "sp500_mmc": ("minmaxChannels", 1, 10.0),
}
SWITCHING_CONFIG = "abacus/pytaaa_model_switching_params.json"
_JOB_SETTINGS = {"async_plot_generation": True, "async_montecarlo_backtest": True,
                 "montecarlo_trials": 4, "plot_generation_workers": 2}


def _model_config(folder: Path, name: str) -> Path:
    """Rename a workspace's ``pytaaa.json`` to PyTAAA's ``pytaaa_<name>.json``."""
    src = folder / "pytaaa.json"
    dest = folder / f"pytaaa_{name}.json"
    src.replace(dest)
    return dest


def write_models_workspace(folder: Path, *, n_symbols: int = 100, years: float = 30.0,
                           overrides: dict[str, Any] | None = None) -> Path:
    """Write the workspace described in the module docstring; returns the path of
    the switching config.  ``overrides`` update every model's ``Valuation``.
    Existing files are overwritten.  Raises ``OSError`` when ``folder`` cannot
    be written."""
    folder = Path(folder)
    settings = {**_JOB_SETTINGS, **(overrides or {})}
    for name, (method, seed, shorter) in DEMO_MODELS.items():
        log.info("model %s: %s, %d symbols x %.0f years", name, method, n_symbols,
                 years - shorter)
        write_workspace(folder / name, n_symbols=n_symbols, years=years - shorter, seed=seed,
                        method=method, config_overrides=settings)
        _model_config(folder / name, name)
    account = folder / "abacus"
    write_workspace(account, n_symbols=n_symbols, years=years, seed=0, method="HMAs",
                    config_overrides=settings)
    data = json.loads((account / "pytaaa.json").read_text(encoding="utf-8"))
    (account / "pytaaa.json").unlink()
    data["models"] = {
        "base_folder": "..",
        "model_choices": {
            "cash": "",
            "naz100_hma": "{base_folder}/naz100_hma/performance/{data_file}",
            "naz100_pi": "{base_folder}/naz100_pi/performance/{data_file}",
            "naz100_pine": "{base_folder}/naz100_pine/pytaaa_naz100_pine.json",
            "sp500_mmc": "{base_folder}/sp500_mmc/pytaaa_sp500_mmc.json",
        },
    }
    data["monte_carlo"] = {"data_format": "backtested", "trading_frequency": "monthly"}
    data["recommendation_mode"] = {"default_lookbacks": [50, 150, 250]}
    data["model_selection"] = {
        "performance_metrics": {"annualized_return_weight": 1.0, "sharpe_ratio_weight": 1.0,
                                "sortino_ratio_weight": 1.0, "max_drawdown_weight": 1.0,
                                "avg_drawdown_weight": 1.0},
        "normalization": {
            "central_values": {"annualized_return": 0.15, "sharpe_ratio": 1.0,
                               "sortino_ratio": 1.2, "max_drawdown": -0.15,
                               "avg_drawdown": -0.05},
            "std_values": {"annualized_return": 0.1, "sharpe_ratio": 0.5, "sortino_ratio": 0.6,
                           "max_drawdown": 0.08, "avg_drawdown": 0.03}}}
    path = folder / SWITCHING_CONFIG
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")
    holdings = account / "performance" / "PyTAAA_holdings.params"
    atomic_write_text(holdings, holdings.read_text(encoding="utf-8")
                      + "\n# the model this account follows (pytaaa models recommend)\n"
                      "trading_model: naz100_hma\n")
    return path
