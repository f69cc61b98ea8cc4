"""The switching account inside a real daily run (models.md section 3)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from _models_data import make_switching_workspace

from pytaaa.config import load_config
from pytaaa.models.account import read_trading_model
from pytaaa.pipeline import RunError, daily_run


@pytest.fixture
def switching_config(tmp_path: Path, synth_workspace: Path, workspace_copy: Path) -> Path:
    return make_switching_workspace(tmp_path, synth_workspace, workspace_copy)


def test_daily_run_of_a_switching_config(switching_config: Path) -> None:
    cfg = load_config(switching_config)
    res = daily_run(cfg, charts=False, montecarlo=False, send_email=False)
    sw = res.switching
    assert sw is not None and res.exit_code == 0, res.problems
    assert sw.followed == "alpha"
    rec = sw.recommendation
    assert set(rec.series.names) == {"alpha", "beta", "cash"}      # gone left out
    assert any("model gone: file not found" in n for n in sw.notes)
    # the late model is absent, then chosen once it dominates
    beta = rec.series.names.index("beta")
    first_beta = int(np.isfinite(rec.series.values[beta]).argmax())
    assert first_beta > 0 and (rec.selection.held[: first_beta + 60] != beta).all()
    assert rec.model == "beta" and sw.mismatch
    # abacus file: 6 columns, column 3 = the switching portfolio
    lines = (cfg.performance_store / "pyTAAAweb_backtestPortfolioValue.params").read_text().split("\n")
    rows = [ln.split() for ln in lines if ln]
    assert all(len(r) == 6 for r in rows)
    assert float(rows[-1][2]) == pytest.approx(rec.selection.values[-1], abs=0.005)
    assert {r[5] for r in rows} >= {"CASH", "beta"}
    assert (cfg.webpage / "recommendation_plot.png").stat().st_size > 10_000
    # trades follow alpha's picks (the model the holdings file names)
    alpha_picks = {p.symbol for p in sw.picks}
    assert alpha_picks and {t.symbol for t in res_plan_buys(res)} <= alpha_picks
    # page, run summary
    html = (cfg.webpage / "pyTAAAweb.html").read_text()
    assert 'id="model-switching"' in html and 'id="switching-mismatch"' in html
    assert "recommendation_plot.png?v=" in html
    summary = json.loads((cfg.webpage / "run_summary.json").read_text())
    ms = summary["model_switching"]
    assert ms["recommended"] == "beta" and ms["followed"] == "alpha" and ms["mismatch"] is True
    assert "you follow alpha: switch to beta" in res.summary()


def res_plan_buys(res):
    from pytaaa.account.ledger import read_holdings
    from pytaaa.account.trades import suggest_trades, value_holdings

    sw = res.switching
    h = read_holdings(res.config.performance_store / "PyTAAA_holdings.params")
    plan = suggest_trades(value_holdings(h, sw.prices, date=res.analysis.last_date), sw.picks)
    return [t for t in plan.trades if t.action == "BUY"]


def test_following_cash_sells_everything(switching_config: Path) -> None:
    # a switching config is recognised by its models section, whatever its file name
    renamed = switching_config.with_name("my_account.json")
    switching_config.rename(renamed)
    cfg = load_config(renamed)
    holdings = cfg.performance_store / "PyTAAA_holdings.params"
    holdings.write_text(holdings.read_text() + "trading_model: cash\n")
    assert read_trading_model(holdings) == "cash"
    res = daily_run(cfg, charts=False, montecarlo=False, send_email=False)
    html = (cfg.webpage / "pyTAAAweb.html").read_text()
    assert res.switching.picks == ()
    assert 'id="trades-table"' in html and ">BUY<" not in html and ">SELL<" in html


def test_no_model_at_all_exits_2(switching_config: Path, tmp_path: Path) -> None:
    data = json.loads(switching_config.read_text())
    data["models"]["model_choices"] = {"cash": "", "gone": "{base_folder}/gone/{data_file}"}
    switching_config.write_text(json.dumps(data))
    with pytest.raises(RunError) as err:
        daily_run(load_config(switching_config), charts=False, montecarlo=False,
                  send_email=False)
    assert err.value.exit_code == 2 and "no model has a readable series" in str(err.value)


def test_email_carries_the_recommendation(switching_config: Path) -> None:
    from pytaaa.site.notify import render_email

    cfg = load_config(switching_config)
    res = daily_run(cfg, charts=False, montecarlo=False, send_email=False)
    note = res.switching.message()
    _subject, html, text = render_email(
        cfg, portfolio=None, plan=None, picks=res.switching.picks, market=None,
        last_date=res.analysis.last_date, now=dt.datetime(2026, 11, 30, 18), switching_note=note)
    assert note in text and "switch to beta" in note
    assert 'id="switching-note"' in html and "you follow alpha" in html
