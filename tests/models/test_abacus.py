"""The account's abacus backtest file (seed test E2E-07: column 3 updated, 2/4/5 kept)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pytaaa.models.abacus import AccountFileError, update_abacus_file
from pytaaa.models.switching import align_series, score_lookbacks


def _selection(n: int = 120):
    d = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-12-31"), dtype="datetime64[D]")
    d = d[np.is_busday(d)][:n]
    up = 10_000.0 * np.cumprod(np.full(n, 1.004))
    wobbly = 10_000.0 * np.cumprod(1 + np.random.default_rng(0).normal(0, 0.01, n))
    return score_lookbacks(align_series({"up": (d, up), "wobbly": (d, wobbly)}), (10, 20), None)


def test_column_3_updated_columns_2_4_5_kept_and_padding(tmp_path: Path) -> None:
    sel = _selection()
    dates = [str(x) for x in sel.series.dates]
    path = tmp_path / "pyTAAAweb_backtestPortfolioValue.params"
    # the account's own history starts on day 50, with its own columns 2, 4, 5
    own = {d: (f"{12000 + i:.2f}", f"{i % 7:.1f}", f"{-i % 5:.1f}") for i, d in enumerate(dates[50:])}
    path.write_text("".join(f"{d} {c2} 11111.11 {c4} {c5}\n" for d, (c2, c4, c5) in own.items()))
    update_abacus_file(path, sel)
    lines = [ln.split() for ln in path.read_text().splitlines()]
    assert [ln[0] for ln in lines] == dates
    assert all(len(ln) == 6 for ln in lines)
    for i, ln in enumerate(lines):
        assert float(ln[2]) == pytest.approx(sel.values[i], abs=0.005)      # column 3
        held = sel.series.names[sel.held[i]]
        assert ln[5] == ("CASH" if held == "cash" else held)                 # column 6
        if ln[0] in own:
            assert (ln[1], ln[3], ln[4]) == own[ln[0]]                       # 2, 4, 5 kept
        else:
            assert (ln[1], ln[3], ln[4]) == ("10000.0", "-1000", "-100000.0")  # padding
    assert lines[0][2:] == ["10000.00", "-1000", "-100000.0", "CASH"]
    assert {ln[5] for ln in lines} >= {"CASH", "up"}
    # idempotent: a second update of its own output gives the same bytes
    first = path.read_bytes()
    update_abacus_file(path, sel)
    assert path.read_bytes() == first


def test_account_days_after_the_models_keep_the_last_value(tmp_path: Path) -> None:
    sel = _selection(60)
    path = tmp_path / "bt.params"
    path.write_text("2021-06-01 1.00 2.00 3.0 4.0\n")
    update_abacus_file(path, sel)
    last = path.read_text().splitlines()[-1].split()
    assert last[0] == "2021-06-01" and (last[1], last[3], last[4]) == ("1.00", "3.0", "4.0")
    assert float(last[2]) == pytest.approx(sel.values[-1], abs=0.005)


@pytest.mark.parametrize("text", [
    "2020-01-01 1 2 3\n",
    "2020-01-01 1 2 3 x\n",
    "not-a-date 1 2 3 4\n",
    "2020-01-01 1 2 3 4\n2020-01-02 1 2 3 4 CASH extra\n",
])
def test_unparsable_file_is_never_overwritten(tmp_path: Path, text: str) -> None:
    path = tmp_path / "pyTAAAweb_backtestPortfolioValue.params"
    path.write_text(text)
    with pytest.raises(AccountFileError, match=r"pyTAAAweb_backtestPortfolioValue.params: line \d"):
        update_abacus_file(path, _selection())
    assert path.read_text() == text
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
