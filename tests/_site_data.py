"""A small hand-made analysis, config and job status files for the site and email tests."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

import pytaaa
from pytaaa.account.ledger import StatusEntry, StatusHistory, parse_holdings
from pytaaa.account.market import market_status
from pytaaa.account.trades import (
    prices_today,
    ranks_today,
    suggest_trades,
    value_holdings,
)
from pytaaa.config import load_config
from pytaaa.model import Analysis, BacktestResult, Pick, Prices, Signals

SYMBOLS = ("AAA", "BBB", "BRK/B", "ZZZ", "CASH")
NOW = dt.datetime(2024, 3, 28, 17, 45, 0, tzinfo=dt.timezone(dt.timedelta(hours=-4)))
HOLDINGS_TEXT = """[Holdings]
TradeDate: 2023-03-28
stocks: CASH AAA BBB
shares: 1000 10 20
buyprice: 1.0 100.0 50.0
cumulativecashin: 3000
"""


def make_analysis(t: int = 60) -> Analysis:
    """A 5-symbol, ``t``-day analysis with known last-day values."""
    dates = np.busday_offset(np.datetime64("2024-01-02"), np.arange(t), roll="forward")
    dates = dates.astype("datetime64[D]")
    days = np.arange(t, dtype=np.float64)
    close = np.vstack([
        100.0 * 1.01 ** days,                      # AAA: rising
        50.0 * 0.995 ** days,                      # BBB: falling
        300.0 + 5.0 * np.sin(days / 5.0),          # BRK/B: sideways
        np.full(t, 20.0),                          # ZZZ: flat
        np.ones(t),                                # CASH
    ])
    n = len(SYMBOLS)
    prices = Prices(
        dates=dates, symbols=SYMBOLS, close=close, despiked=close.copy(),
        first_valid=np.zeros(n, dtype=int), last_valid=np.full(n, t - 1),
        first_active=np.zeros(n, dtype=int),
    )
    sig = np.zeros((n, t), dtype=np.int8)
    sig[0] = 1
    sig[2] = 1
    score = np.zeros((n, t))
    score[0] = 1.5
    score[2] = 0.8
    weights = np.zeros((n, t))
    weights[0, :] = 0.6
    weights[2, :] = 0.4
    bt = BacktestResult(dates=dates, strategy=10000 * 1.002 ** days,
                        buy_hold=10000 * 1.001 ** days, stats={})
    picks = (
        Pick("AAA", 0.6, float(close[0, -1]), 1, 1.5),
        Pick("BRK/B", 0.4, float(close[2, -1]), 2, 0.8),
    )
    return Analysis(
        prices=prices, signals=Signals(daily=sig, held=sig.copy()), score=score,
        weights=weights, rebalance=np.zeros(t, dtype=bool), backtest=bt,
        new_highs=np.linspace(0, 10, t), new_lows=np.linspace(5, 0, t),
        uptrend_count=np.full(t, 2.0), active_count=np.full(t, 4.0), picks=picks,
        rank_today=np.array([1, 3, 2, 4, 5]), rank_month_start=np.array([2, 4, 1, 3, 5]),
        timings={"load": 0.25, "signals": 1.5},
    )


def make_config(tmp_path: Path, **email: object) -> "pytaaa.config.Config":
    """A valid config whose folders live in ``tmp_path``."""
    for d in ("data", "perf", "web"):
        (tmp_path / d).mkdir(exist_ok=True)
    data = {
        "Valuation": {
            "symbols_file": "data/naz100_symbols.txt",
            "performance_store": "perf",
            "webpage": "web",
            "stockList": "Naz100",
            "uptrendSignalMethod": "SMAs",
            "numberStocksTraded": 2,
            "monthsToHold": 1,
            "LongPeriod": 20,
            "stddevThreshold": 5.0,
            "MA1": 30, "MA2": 5, "MA3": 10, "sma2factor": 0.95,
        },
    }
    if email:
        data["Email"] = email
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(data))
    return load_config(path)


def site_inputs(analysis: Analysis) -> dict:
    """Keyword arguments of write_site for the hand-made analysis."""
    holdings = parse_holdings(HOLDINGS_TEXT)
    portfolio = value_holdings(holdings, prices_today(analysis), date=analysis.last_date,
                               ranks=ranks_today(analysis))
    plan = suggest_trades(portfolio, analysis.picks, fee=4.95, min_buy=800, min_adjust=400)
    history = StatusHistory((
        StatusEntry(dt.datetime(2024, 3, 26, 16, 0), 3900.0, 1, 3900.0),
        StatusEntry(dt.datetime(2024, 3, 27, 16, 0), 3950.0, 1, 3950.0),
    ))
    return dict(
        portfolio=portfolio, plan=plan, status_history=history,
        market=market_status(NOW), companies={"AAA": "Alpha & Co", "BRK/B": "Berkshire B"},
        index_changes=[(dt.date(2024, 2, 1), "Add", "AAA"),
                       (dt.date(2023, 12, 1), "Remove", "OLD")],
        now=NOW, timings={"web": 0.5}, draw_charts=False,
    )


def write_job_status(webpage: Path, kind: str, **fields: object) -> dict:
    """Write a background job's status the way the job runtime does (.json + .js)."""
    status = {
        "kind": kind, "job_id": "t1", "state": "running", "pid": 1, "started_at":
        "2024-03-28T17:40:00", "updated_at": "2024-03-28T17:41:00", "finished_at": None,
        "total": 10, "done": 3, "skipped": 0, "failed": 0, "errors": [],
        "log": "plot_generation.log" if kind == "charts" else "montecarlo_backtest.log",
        "workers": 2,
    }
    status.update(fields)
    (webpage / ".pytaaa").mkdir(exist_ok=True)
    (webpage / ".pytaaa" / f"{kind}.json").write_text(json.dumps(status))
    js = ("window.PYTAAA_JOBS = window.PYTAAA_JOBS || {}; "
          f"window.PYTAAA_JOBS[{json.dumps(kind)}] = {json.dumps(status)};\n")
    tmp = webpage / f".pytaaa_job_{kind}.js.tmp"
    tmp.write_text(js)
    tmp.replace(webpage / f"pytaaa_job_{kind}.js")
    return status


def hold_job_lock(webpage: Path, kind: str) -> int:
    """Take the job's kernel lock as a running job does; close the fd to release it."""
    import fcntl
    import os

    (webpage / ".pytaaa").mkdir(exist_ok=True)
    fd = os.open(webpage / ".pytaaa" / f"{kind}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd
