"""The synthetic universe and the demo workspace."""

from __future__ import annotations

import configparser
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from pytaaa.cli.data import data
from pytaaa.config import METHODS, ConfigError, load_config
from pytaaa.data.store import (
    read_company_names,
    read_index_changes,
    read_store,
    read_symbols_file,
    store_location,
)
from pytaaa.data.synth import (
    synthetic_company_names,
    synthetic_quotes,
    synthetic_tickers,
    write_workspace,
)
from pytaaa.model import Quotes


def _spans(quotes: Quotes) -> tuple[np.ndarray, np.ndarray]:
    valid = ~np.isnan(quotes.close)
    first = valid.argmax(axis=1)
    last = valid.shape[1] - 1 - valid[:, ::-1].argmax(axis=1)
    return first, last


def test_same_arguments_give_identical_bytes() -> None:
    a = synthetic_quotes(30, 6.0, seed=7)
    b = synthetic_quotes(30, 6.0, seed=7)
    assert a.symbols == b.symbols
    assert a.dates.tobytes() == b.dates.tobytes()
    assert a.close.tobytes() == b.close.tobytes()
    c = synthetic_quotes(30, 6.0, seed=8)
    assert c.symbols == a.symbols  # tickers do not depend on the seed
    assert c.close.tobytes() != a.close.tobytes()


def test_shape_dates_and_cash(synth_quotes_small: Quotes) -> None:
    q = synth_quotes_small
    assert q.close.shape == (21, len(q.dates))
    assert q.dates.dtype == np.dtype("datetime64[D]")
    assert np.all(np.diff(q.dates).astype(int) > 0)
    assert np.is_busday(q.dates).all()
    assert q.last_date == dt.date(2026, 11, 20)
    # 8 years of weekdays, about 261 a year
    assert 8 * 260 <= len(q.dates) <= 8 * 262
    assert q.symbols[-1] == "CASH" and len(set(q.symbols)) == 21
    np.testing.assert_array_equal(q.close[-1], 1.0)
    stocks = q.close[:-1]
    assert np.all(stocks[~np.isnan(stocks)] > 0)
    assert np.isfinite(stocks[~np.isnan(stocks)]).all()


def test_end_date_and_years_are_followed() -> None:
    q = synthetic_quotes(3, 1.0, seed=1, end=dt.date(2010, 1, 3))  # a Sunday
    assert q.last_date == dt.date(2010, 1, 1)
    assert q.dates[0] >= np.datetime64("2009-01-01")


def test_listings_delistings_missing_days(synth_quotes_small: Quotes) -> None:
    q = synth_quotes_small
    first, last = _spans(q)
    n_days = len(q.dates)
    late = np.flatnonzero(first[:-1] > 0)
    gone = np.flatnonzero(last[:-1] < n_days - 1)
    assert len(late) >= 3 and len(gone) >= 1
    assert not set(late) & set(gone)
    assert (first[:-1] == 0).sum() >= 10  # most tickers cover the whole history
    # a late listing is NaN before its first quote and quoted right after it
    i = late[0]
    assert np.isnan(q.close[i, : first[i]]).all() and not np.isnan(q.close[i, first[i] : first[i] + 3]).any()
    assert np.isnan(q.close[gone[0], last[gone[0]] + 1 :]).all()
    # missing days inside the spans
    t = np.arange(n_days)
    inside = (t > first[:, None]) & (t < last[:, None])
    gaps = np.isnan(q.close) & inside
    assert gaps.sum() >= 10
    assert gaps.any(axis=1).sum() >= 5


def test_spikes_for_the_despiker(synth_quotes_small: Quotes) -> None:
    close = synth_quotes_small.close[:-1]
    g = close[:, 1:] / close[:, :-1]
    spikes = (g[:, :-1] > 1.5) & (g[:, 1:] < 1 / 1.5)
    assert spikes.sum() >= 2


def test_market_wide_crashes() -> None:
    q = synthetic_quotes(40, 35.0, seed=3)
    assert q.dates[0] < np.datetime64("1992-01-01")
    close = q.close[:-1]
    rets = close[:, 1:] / close[:, :-1] - 1

    def market_move(start: str, stop: str) -> float:
        window = (q.dates[1:] >= np.datetime64(start)) & (q.dates[1:] <= np.datetime64(stop))
        return float(np.prod(1 + np.nanmean(rets[:, window], axis=0)) - 1)

    assert market_move("2008-09-15", "2009-03-09") < -0.2
    assert market_move("2020-02-20", "2020-03-23") < -0.2
    assert market_move("2000-03-27", "2002-10-09") < -0.3
    # and the market grows over the whole history
    assert market_move("1991-01-01", "2026-12-31") > 1.0


def test_tickers_and_company_names() -> None:
    tickers = synthetic_tickers(100)
    assert len(set(tickers)) == 100 and list(tickers) == sorted(tickers)
    assert all(3 <= len(t) <= 4 and t.isalpha() and t.isupper() and t != "CASH" for t in tickers)
    assert all(set(t) & set("QXZJ") for t in tickers)
    assert set(synthetic_tickers(20)) <= set(tickers)  # prefix-stable
    names = synthetic_company_names(list(tickers) + ["CASH"])
    assert names == synthetic_company_names(list(tickers) + ["CASH"])
    assert names["CASH"] == "Cash"
    assert len(set(names.values())) == 101
    assert all(len(n.split()) == 3 for t, n in names.items() if t != "CASH")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="n_symbols"):
        synthetic_quotes(0)
    with pytest.raises(ValueError, match="at least 60"):
        synthetic_quotes(5, years=0.1)
    with pytest.raises(ValueError, match="method must be one of"):
        write_workspace(Path("unused"), method="RSI")


# ---- workspace -----------------------------------------------------------------------


def test_workspace_loads_and_reads(synth_workspace: Path, synth_quotes_small: Quotes) -> None:
    cfg = load_config(synth_workspace)
    v = cfg.valuation
    assert v.uptrendSignalMethod == "HMAs" and v.stockList == "Naz100"
    assert (v.numberStocksTraded, v.monthsToHold, v.LongPeriod) == (7, 1, 104)
    assert (v.MA1, v.MA2, v.MA3, v.sma2factor, v.stddevThreshold) == (151, 14, 22, 1.0, 5.0)
    assert v.symbols_file == synth_workspace.parent / "data" / "naz100_symbols.txt"
    assert v.webpage.is_dir() and v.performance_store.is_dir()
    assert not cfg.email.configured and cfg.email.PW is None
    raw = json.loads(synth_workspace.read_text())
    assert not Path(raw["Valuation"]["symbols_file"]).is_absolute()
    path, key = store_location(v.symbols_file)
    assert (path.name, key) == ("Naz100_Symbols_.hdf5", "Naz100_Symbols")
    quotes = read_store(v.symbols_file)
    assert quotes.symbols == synth_quotes_small.symbols
    assert quotes.close.tobytes() == synth_quotes_small.close.tobytes()
    np.testing.assert_array_equal(quotes.dates, synth_quotes_small.dates)


def test_workspace_side_files(synth_workspace: Path, synth_quotes_small: Quotes) -> None:
    symbols_file = load_config(synth_workspace).valuation.symbols_file
    q = synth_quotes_small
    current = read_symbols_file(symbols_file)
    still_quoted = [s for s, row in zip(q.symbols[:-1], q.close[:-1]) if not np.isnan(row[-1])]
    assert current == still_quoted and len(current) < 20
    names = read_company_names(symbols_file)
    assert set(names) == set(q.symbols[:-1])
    changes = read_index_changes(symbols_file)
    assert changes and {c[1] for c in changes} == {"Add", "Remove"}
    assert [c[0] for c in changes] == sorted((c[0] for c in changes), reverse=True)
    first, _ = _spans(q)
    adds = {sym: day for day, action, sym in changes if action == "Add"}
    for sym, day in adds.items():
        assert q.dates[first[q.symbols.index(sym)]].item() == day


def test_workspace_holdings(synth_workspace: Path, synth_quotes_small: Quotes) -> None:
    holdings = synth_workspace.parent / "performance" / "PyTAAA_holdings.params"
    parser = configparser.ConfigParser()
    parser.read_string(holdings.read_text())
    h = parser["Holdings"]
    stocks = h["stocks"].split()
    shares = [float(x) for x in h["shares"].split()]
    prices = [float(x) for x in h["buyprice"].split()]
    assert stocks[0] == "CASH" and len(stocks) == len(shares) == len(prices) == 8
    trade_day = np.datetime64(h["TradeDate"], "D")
    q = synth_quotes_small
    t = int(np.searchsorted(q.dates, trade_day))
    assert q.dates[t] == trade_day
    for sym, price in zip(stocks[1:], prices[1:]):
        assert price == pytest.approx(q.close[q.symbols.index(sym), t], abs=0.006)
    invested = sum(n * p for n, p in zip(shares, prices))
    assert invested == pytest.approx(float(h["cumulativecashin"]), abs=0.01)
    assert shares[0] > 0


@pytest.mark.parametrize("method", METHODS)
def test_workspace_every_method_and_overrides(tmp_path: Path, method: str) -> None:
    config_path = write_workspace(
        tmp_path, n_symbols=4, years=2.0, seed=1, method=method,
        config_overrides={"numberStocksTraded": 3, "Email": {"enabled": True}},
    )
    cfg = load_config(config_path)
    assert cfg.valuation.uptrendSignalMethod == method
    assert cfg.valuation.numberStocksTraded == 3
    assert cfg.email.configured


def test_workspace_bad_override(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="numberStocksTraded"):
        write_workspace(tmp_path, n_symbols=3, years=2.0, config_overrides={"numberStocksTraded": "7"})


def test_cli_synth(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    runner = CliRunner()
    args = ["synth", "--dir", str(folder), "--symbols", "6", "--years", "2", "--seed", "4"]
    res = runner.invoke(data, args)
    assert res.exit_code == 0, res.output
    assert str(folder / "pytaaa.json") in res.output and "7 symbols" in res.output
    assert read_store(folder / "data" / "naz100_symbols.txt").close.shape[0] == 7
    again = runner.invoke(data, args)
    assert again.exit_code == 1 and "--force" in again.output and "Traceback" not in again.output
    forced = runner.invoke(data, args + ["--force", "--method", "percentileChannels"])
    assert forced.exit_code == 0
    assert load_config(folder / "pytaaa.json").valuation.method == "percentileChannels"
    bad = runner.invoke(data, ["synth", "--dir", str(folder), "--symbols", "0"])
    assert bad.exit_code == 2
