"""Reading the switching config in PyTAAA's layout (models.md section 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytaaa.config import load_config
from pytaaa.models.settings import SwitchingConfigError, read_switching

PYTAAA_LAYOUT = {
    "Email": {"From": "<your address>", "To": "<your address>", "PW": "<your password>"},
    "Text_from_email": {"phoneEmail": "<phone email>", "send_texts": False},
    "FTP": {"hostname": "<host>", "username": "<user>", "password": "<password>",
            "remotepath": "<path>", "remoteIP": "<ip>"},
    "stock_server": {"quote_server": "yahoo"},
    "Setup": {"runtime": "15 hours", "pausetime": "2 hours"},
    "Valuation": {
        "symbols_file": "abacus/symbols/Naz100_Symbols.txt",
        "performance_store": "abacus/data_store",
        "webpage": "abacus/webpage",
        "stockList": "Naz100", "uptrendSignalMethod": "HMAs", "numberStocksTraded": 7,
        "monthsToHold": 1, "LongPeriod": 104, "stddevThreshold": 5.0, "MA1": 151, "MA2": 14,
        "MA3": 22, "sma2factor": 1.0, "rankThresholdPct": 0.2, "riskDownside_min": 0.5,
        "riskDownside_max": 10.0, "async_plot_generation": True,
        "async_montecarlo_backtest": True,
    },
    "models": {"base_folder": "/home/me/pyTAAA_data",
               "model_choices": {"cash": "",
                                 "naz100_hma": "{base_folder}/naz100_hma/data_store/{data_file}",
                                 "naz100_pine": "{base_folder}/naz100_pine/data_store/{data_file}",
                                 "naz100_pi": "{base_folder}/naz100_pi/data_store/{data_file}",
                                 "sp500_hma": "{base_folder}/sp500_hma/data_store/{data_file}",
                                 "sp500_pine": "{base_folder}/sp500_pine/data_store/{data_file}"}},
    "monte_carlo": {"max_iterations": 250, "min_iterations_for_exploit": 50,
                    "trading_frequency": "monthly", "min_lookback": 10, "max_lookback": 400,
                    "data_format": "backtested",
                    "data_files": {"actual": "PyTAAA_status.params",
                                   "backtested": "pyTAAAweb_backtestPortfolioValue.params"}},
    "recommendation_mode": {"default_lookbacks": [55, 157, 174]},
    "model_selection": {"n_lookbacks": 3,
                        "performance_metrics": {"sharpe_ratio_weight": 1.0,
                                                "sortino_ratio_weight": 1.0,
                                                "max_drawdown_weight": 1.0,
                                                "avg_drawdown_weight": 1.0,
                                                "annualized_return_weight": 2.0},
                        "normalization": {"central_values": {"annualized_return": 0.45,
                                                             "sharpe_ratio": 1.45},
                                          "std_values": {"annualized_return": 0.03,
                                                         "sharpe_ratio": 0.08}}},
    "metric_blending": {"enabled": True, "full_period_weight": 0.7, "focus_period_weight": 0.3},
}


def write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data, indent=2))
    return path


def test_reads_pytaaa_layout(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path / "pytaaa_model_switching_params.json", PYTAAA_LAYOUT))
    s = read_switching(cfg)
    assert s.names == ("cash", "naz100_hma", "naz100_pi", "naz100_pine", "sp500_hma",
                       "sp500_pine")
    hma = s.entry("naz100_hma")
    assert hma is not None and hma.kind == "file"
    assert hma.data_file == Path(
        "/home/me/pyTAAA_data/naz100_hma/data_store/pyTAAAweb_backtestPortfolioValue.params")
    assert s.entry("cash").kind == "cash"
    assert s.lookbacks == (55, 157, 174)
    assert s.weights["annualized_return"] == 2.0 and s.weights["sortino_ratio"] == 1.0
    assert s.central_values["sharpe_ratio"] == 1.45 and s.std_values["max_drawdown"] == 1.0
    assert s.data_format == "backtested" and s.trading_frequency == "monthly"


def test_actual_format_and_model_configs(tmp_path: Path, synth_workspace: Path) -> None:
    data = json.loads(json.dumps(PYTAAA_LAYOUT))
    data["monte_carlo"]["data_format"] = "actual"
    data["models"] = {"base_folder": str(tmp_path / "models"),
                      "model_choices": {"own": str(synth_workspace),
                                        "rel": "{base_folder}/rel/{data_file}"}}
    s = read_switching(load_config(write(tmp_path / "sw.json", data)))
    own = s.entry("own")
    assert own.kind == "config" and own.config_path == synth_workspace
    assert own.data_file == load_config(synth_workspace).performance_store / "PyTAAA_status.params"
    assert s.entry("rel").data_file == tmp_path / "models" / "rel" / "PyTAAA_status.params"
    assert s.entry("cash").kind == "cash"   # cash is always a candidate


@pytest.mark.parametrize("change, expected", [
    (("monte_carlo", "data_format", "csv"), "monte_carlo.data_format: \"csv\" is invalid"),
    (("recommendation_mode", "default_lookbacks", [50, "x"]),
     "recommendation_mode.default_lookbacks[1]"),
    (("recommendation_mode", "default_lookbacks", [2]), "at least 3 days"),
    (("model_selection", "performance_metrics", {"sharpe_ratio_weight": "high"}),
     "model_selection.performance_metrics.sharpe_ratio_weight: \"high\" is invalid"),
    (("models", "model_choices", {"a": "{base}/x"}), "models.model_choices.a"),
    (("models", "model_choices", {}), "models.model_choices"),
    (("models", "model_choices", {"a": "/x/{data_file}", "b": 3}), "models.model_choices.b"),
])
def test_bad_keys_are_one_clear_line_each(tmp_path: Path, change, expected) -> None:
    data = json.loads(json.dumps(PYTAAA_LAYOUT))
    section, key, value = change
    data[section][key] = value
    cfg = load_config(write(tmp_path / "sw.json", data))
    with pytest.raises(SwitchingConfigError) as err:
        read_switching(cfg)
    assert any(expected in p for p in err.value.problems), err.value.problems
    assert all("\n" not in p for p in err.value.problems)
    assert "<your password>" not in str(err.value)


def test_bad_model_config_is_named(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.json", {"Valuation": {"stockList": "x"}})
    data = json.loads(json.dumps(PYTAAA_LAYOUT))
    data["models"]["model_choices"] = {"m": str(bad)}
    with pytest.raises(SwitchingConfigError, match=r"models.model_choices.m: its config .*bad.json"):
        read_switching(load_config(write(tmp_path / "sw.json", data)))


def test_cli_run_exits_2_on_a_bad_models_section(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pytaaa.cli.app import main

    data = json.loads(json.dumps(PYTAAA_LAYOUT))
    data["recommendation_mode"]["default_lookbacks"] = "50"
    path = write(tmp_path / "sw.json", data)
    res = CliRunner().invoke(main, ["run", "--json", str(path)])
    assert res.exit_code == 2
    assert "recommendation_mode.default_lookbacks" in res.output
