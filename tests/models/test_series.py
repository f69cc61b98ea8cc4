"""Reading the models' files: column 3 of the backtest file, or the status history."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from pytaaa.config import load_config
from pytaaa.models.series import NoModelsError, read_model_series, read_value_file
from pytaaa.models.settings import read_switching


def test_backtest_file_column_3_five_or_six_columns(tmp_path: Path, caplog) -> None:
    p = tmp_path / "bt.params"
    p.write_text("2020-01-02 1.0 10000.00 0.0 0.0\n"
                 "2020-01-03 1.0 10100.50 0.0 0.0 naz100_hma\n"
                 "2020-01-06 1.0 oops 0.0 0.0\n"
                 "\n"
                 "2020-01-07 1.0 10200.00 0.0 0.0 CASH\n")
    with caplog.at_level(logging.WARNING):
        d, v = read_value_file(p, "backtested")
    assert [str(x) for x in d] == ["2020-01-02", "2020-01-03", "2020-01-07"]
    assert v.tolist() == [10000.0, 10100.5, 10200.0]
    assert "bt.params: 1 line(s) cannot be read and are skipped (first: line 3)" in caplog.text


def test_status_file_six_token_lines_last_of_the_day(tmp_path: Path) -> None:
    p = tmp_path / "PyTAAA_status.params"
    p.write_bytes(b"[Status]\r\n"
                  b"cumu_value: 2020-01-02 09:00:00.000001 100000.0 1 100000.0\r\n"
                  b"cumu_value: 2020-01-02 16:00:00.000001 101000.0 1 100900.0\r\n"
                  b"cumu_value: 2020-01-03 16:00:00 99000.0 0\r\n"
                  b"cumu_value: 2020-01-06 16:00:00.5 102000.0 0 101000.0\n")
    d, v = read_value_file(p, "actual")
    assert [str(x) for x in d] == ["2020-01-02", "2020-01-06"]
    assert v.tolist() == [101000.0, 102000.0]


def _config(tmp_path: Path, workspace: Path, choices: dict) -> Path:
    data = json.loads(workspace.read_text())
    data["models"] = {"base_folder": str(tmp_path), "model_choices": choices}
    path = tmp_path / "sw.json"
    path.write_text(json.dumps(data))
    return path


def test_missing_model_is_a_warning_and_the_others_go_on(tmp_path: Path,
                                                        synth_workspace: Path) -> None:
    good = tmp_path / "good" / "pyTAAAweb_backtestPortfolioValue.params"
    good.parent.mkdir()
    good.write_text("2020-01-02 1 10000 0 0\n2020-01-03 1 10100 0 0\n")
    cfg = load_config(_config(tmp_path, synth_workspace, {
        "good": "{base_folder}/good/{data_file}", "lost": "{base_folder}/lost/{data_file}"}))
    series, warnings = read_model_series(read_switching(cfg))
    assert series.names == ("cash", "good")
    assert warnings == [f"model lost: file not found: "
                        f"{tmp_path / 'lost' / 'pyTAAAweb_backtestPortfolioValue.params'}; left out"]
    np.testing.assert_array_equal(series.values[0], [10000.0, 10000.0])


def test_only_cash_is_an_error(tmp_path: Path, synth_workspace: Path) -> None:
    cfg = load_config(_config(tmp_path, synth_workspace,
                              {"cash": "", "lost": "{base_folder}/lost/{data_file}"}))
    with pytest.raises(NoModelsError, match="no model has a readable series.*model lost"):
        read_model_series(read_switching(cfg))
