"""Valuation and trade suggestions on hand-made holdings (pipeline.md section 9)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pytaaa.account.ledger import Holdings, parse_holdings
from pytaaa.account.trades import (
    append_diagnostic,
    suggest_trades,
    value_holdings,
)
from pytaaa.model import Pick

TODAY = dt.date(2024, 1, 1)
PRICES = {"AAA": 12.0, "BBB": 30.0, "CCC": 40.0, "DDD": 33.0, "EEE": 7.0}


def holdings(symbols, shares, prices, cash_in=8000.0, first=dt.date(2022, 1, 1)) -> Holdings:
    return Holdings(tuple(symbols), tuple(map(float, shares)), tuple(map(float, prices)),
                    cash_in, first, first)


def pick(sym: str, w: float, rank: int = 1) -> Pick:
    return Pick(sym, w, PRICES.get(sym, 1.0), rank, 1.0)


def plan_for(h: Holdings, picks, **kw):
    pv = value_holdings(h, PRICES, date=TODAY)
    return pv, suggest_trades(pv, picks, fee=kw.get("fee", 4.95),
                              min_buy=kw.get("min_buy", 800), min_adjust=kw.get("min_adjust", 400))


def test_sell_unpicked_buy_new_skip_small_and_keep_close_positions() -> None:
    h = holdings(["CASH", "AAA", "BBB", "CCC"], [5000, 100, 50, 10], [1, 10, 20, 50])
    picks = [pick("AAA", 0.5, 1), pick("BBB", 0.2, 2), pick("DDD", 0.25, 3), pick("EEE", 0.05, 4)]
    pv, plan = plan_for(h, picks)
    assert pv.total == pytest.approx(8100.0)
    # 3 trades -> budget 8100 - 3 * 4.95 = 8085.15
    got = [(t.action, t.symbol, t.shares, t.reason) for t in plan.trades]
    assert got == [
        ("SELL", "CCC", 10.0, "exit"),          # not picked: all shares
        ("BUY", "AAA", 236.0, "increase"),      # (4042.575 - 1200) / 12 -> 236 whole shares
        ("BUY", "DDD", 61.0, "new"),            # 2021.29 / 33 -> 61
    ]
    skipped = {s.symbol: s.reason for s in plan.skipped}
    assert skipped["EEE"] == "buy $404.26 under $800.00"       # under min_buy
    assert skipped["BBB"] == "adjustment $117.03 under $400.00"  # under min_adjust
    assert plan.fees == pytest.approx(3 * 4.95)
    assert plan.cash_after == pytest.approx(5000 + 400 - 236 * 12 - 61 * 33 - 3 * 4.95)
    after = {s: (sh, bp) for s, sh, bp in plan.positions_after}
    assert list(after) == ["CASH", "AAA", "BBB", "DDD"]
    assert after["CASH"][0] == pytest.approx(540.15)
    assert after["AAA"] == (336.0, pytest.approx((1000 + 236 * 12) / 336))
    assert after["BBB"] == (50.0, 20.0)
    assert after["DDD"] == (61.0, 33.0)
    assert plan.signature() == "SELL 10 CCC; BUY 236 AAA; BUY 61 DDD"


def test_reduction_sells_whole_shares_rounded_up() -> None:
    h = holdings(["CASH", "AAA"], [0, 100], [1, 10])
    _pv, plan = plan_for(h, [pick("AAA", 0.5)])
    # budget 1200 - 4.95; target 597.525; change -602.475 -> ceil(50.2) = 51 shares
    assert [(t.action, t.symbol, t.shares, t.reason) for t in plan.trades] == [
        ("SELL", "AAA", 51.0, "decrease")]
    assert plan.cash_after == pytest.approx(51 * 12 - 4.95)


def test_buys_trimmed_so_cash_never_goes_negative() -> None:
    # AAA stays above its target (change under $400), so the full-size BBB buy would overdraw
    prices = {"AAA": 100.0, "BBB": 10.0}
    h = holdings(["CASH", "AAA"], [1000, 10], [1, 100])
    pv = value_holdings(h, prices, date=TODAY)
    plan = suggest_trades(pv, [Pick("AAA", 0.4, 100.0, 1, 1), Pick("BBB", 0.6, 10.0, 2, 1)],
                          fee=4.95, min_buy=800, min_adjust=400)
    assert [(t.action, t.symbol, t.shares) for t in plan.trades] == [("BUY", "BBB", 99.0)]
    assert plan.cash_after == pytest.approx(1000 - 990 - 4.95)
    assert plan.cash_after >= 0


def test_all_cash_pick_sells_everything_including_fractional_shares() -> None:
    h = holdings(["CASH", "AAA", "BBB"], [10, 10.5, 3], [1, 10, 20])
    _pv, plan = plan_for(h, [Pick("CASH", 1.0, 1.0, 1, 0.0)])
    assert [(t.symbol, t.shares) for t in plan.trades] == [("AAA", 10.5), ("BBB", 3.0)]
    assert all(t.action == "SELL" for t in plan.trades)
    assert plan.cash_after == pytest.approx(10 + 126 + 90 - 2 * 4.95)
    assert plan.positions_after == (("CASH", pytest.approx(216.1), 1.0),)


def test_lots_of_the_same_symbol_are_merged_and_unquoted_symbols_kept() -> None:
    h = holdings(["CASH", "AAA", "AAA", "GONE"], [2000, 10, 30, 5], [1, 8, 12, 20])
    pv, plan = plan_for(h, [pick("AAA", 1.0)], fee=0)
    gone = [p for p in pv.positions if p.symbol == "GONE"][0]
    assert (gone.quoted, gone.price, gone.value) == (False, 20.0, 100.0)
    # AAA: 40 shares held at avg 11; budget excludes GONE: 2000 + 480 -> 2480 / 12 = 206 shares
    assert [(t.action, t.symbol, t.shares) for t in plan.trades] == [("BUY", "AAA", 166.0)]
    after = {s: (sh, bp) for s, sh, bp in plan.positions_after}
    assert after["AAA"] == (206.0, pytest.approx((40 * 11 + 166 * 12) / 206))
    assert after["GONE"] == (5.0, 20.0)


def test_no_trades_when_holdings_match() -> None:
    h = holdings(["CASH", "AAA"], [100, 100], [1, 10])
    _pv, plan = plan_for(h, [pick("AAA", 0.92)])
    assert plan.trades == () and plan.signature() == ""
    assert plan.cash_after == 100


def test_valuation_profit_and_annualized_return() -> None:
    h = holdings(["CASH", "AAA", "BBB"], [1000, 100, 50], [1, 10, 20], cash_in=3000,
                 first=dt.date(2022, 1, 1))
    pv = value_holdings(h, PRICES, date=TODAY, ranks={"AAA": 3})
    assert pv.total == pytest.approx(1000 + 1200 + 1500)
    assert pv.profit == pytest.approx(700)
    assert pv.profit_pct == pytest.approx(700 / 3000 * 100)
    years = (TODAY - dt.date(2022, 1, 1)).days / 365.25
    assert pv.annualized_return == pytest.approx((3700 / 3000) ** (1 / years) - 1)
    assert 0.11 < pv.annualized_return < 0.112
    rows = {p.symbol: p for p in pv.positions}
    assert rows["AAA"].change_pct == pytest.approx(20.0)
    assert rows["AAA"].rank == 3 and rows["BBB"].rank is None
    assert sum(p.weight for p in pv.positions) == pytest.approx(1.0)
    # no trade date: no annualized return
    assert value_holdings(parse_holdings(
        "[Holdings]\nstocks: CASH\nshares: 5\nbuyprice: 1\n"), {}, date=TODAY
    ).annualized_return is None


def test_rejects_negative_thresholds() -> None:
    pv = value_holdings(holdings(["CASH"], [1], [1]), {}, date=TODAY)
    with pytest.raises(ValueError, match="fee must be a finite number >= 0"):
        suggest_trades(pv, [], fee=-1)


@settings(max_examples=60, deadline=None)
@given(
    held=st.dictionaries(st.sampled_from(sorted(PRICES)), st.integers(0, 400), max_size=4),
    cash=st.floats(0, 20000),
    weights=st.dictionaries(st.sampled_from(sorted(PRICES)), st.floats(0.01, 1.0),
                            min_size=1, max_size=4),
)
# found by hypothesis: an increase trimmed for lack of cash fell to one $12 share
@example(held={"AAA": 1, "BBB": 1, "CCC": 12, "DDD": 22}, cash=0.0,
         weights={"AAA": 1.0, "CCC": 1.0, "DDD": 1.0})
def test_plan_invariants(held: dict, cash: float, weights: dict) -> None:
    syms = ["CASH"] + sorted(held)
    h = holdings(syms, [cash] + [held[s] for s in sorted(held)], [1.0] + [5.0] * len(held))
    total_w = sum(weights.values())
    picks = [pick(s, w / total_w, i + 1) for i, (s, w) in enumerate(sorted(weights.items()))]
    pv, plan = plan_for(h, picks)
    held_now = {s: n for s, n in held.items() if n > 0}
    for t in plan.trades:
        if t.reason in ("new", "increase", "decrease"):
            assert t.shares == int(t.shares) and t.shares >= 1
        if t.action == "SELL":
            assert t.shares <= held_now[t.symbol]
        if t.reason == "exit":
            assert t.symbol not in weights and t.shares == held_now[t.symbol]
        if t.reason == "new":
            assert t.symbol not in held_now and t.amount >= 800 - PRICES[t.symbol]
        if t.reason in ("increase", "decrease"):
            assert t.amount >= 400 - t.price
    # every dollar is accounted for: value after + fees == value before
    after_value = sum(sh * (1.0 if s == "CASH" else PRICES[s])
                      for s, sh, _bp in plan.positions_after)
    assert after_value + plan.fees == pytest.approx(pv.total, abs=0.02)
    # deterministic
    assert suggest_trades(pv, picks, fee=4.95, min_buy=800, min_adjust=400) == plan


def test_diagnostic_block_appended(tmp_path: Path) -> None:
    h = holdings(["CASH", "AAA"], [100.5, 10], [1, 10])
    when = dt.datetime(2024, 1, 2, 15, 30, 1)
    path = append_diagnostic(tmp_path, when=when, holdings=h, prices=PRICES,
                             picks=[pick("AAA", 0.6), pick("DDD", 0.4, 2)])
    append_diagnostic(tmp_path, when=when, holdings=h, prices=PRICES, picks=[])
    assert path == tmp_path / "PyTAAA_diagnostic.params"
    text = path.read_text()
    assert text.count("diagnostic_time: 2024-01-02 15:30:01") == 2
    assert "held_stocks: CASH AAA\nheld_shares: 100.5 10\nheld_buyprice: 1.00 10.00\n" in text
    assert "held_price: 1.00 12.00\n" in text
    assert "new_stocks: AAA DDD\nnew_weights: 0.6000 0.4000\nnew_prices: 12.00 33.00\n" in text


def test_month_end_ledger_update_only_when_enabled_and_due(tmp_path: Path) -> None:
    from pytaaa.account.ledger import read_holdings
    from pytaaa.account.trades import update_ledger_month_end

    path = tmp_path / "PyTAAA_holdings.params"
    path.write_text("[Holdings]\nTradeDate: 2024-04-30\nstocks: CASH AAA CCC\n"
                    "shares: 5000 100 10\nbuyprice: 1 10 50\ncumulativecashin: 8000\n")
    h = read_holdings(path)
    pv = value_holdings(h, PRICES, date=dt.date(2024, 5, 31))
    plan = suggest_trades(pv, [pick("AAA", 0.5), pick("DDD", 0.5, 2)])
    before = path.read_bytes()
    due = dt.datetime(2024, 5, 31, 13, 5)  # last trading day of May, after 13:00
    assert not update_ledger_month_end(path, h, plan, enabled=False, now=due)
    assert not update_ledger_month_end(path, h, plan, enabled=True,
                                       now=dt.datetime(2024, 5, 31, 12, 0))
    assert not update_ledger_month_end(path, h, plan, enabled=True,
                                       now=dt.datetime(2024, 5, 30, 15, 0))
    assert path.read_bytes() == before
    assert update_ledger_month_end(path, h, plan, enabled=True, now=due)
    new = read_holdings(path)
    assert new.last_trade_date == dt.date(2024, 5, 31)
    assert new.first_trade_date == dt.date(2024, 4, 30)
    assert new.symbols == ("CASH", "AAA", "DDD")
    assert new.shares[1:] == tuple(sh for _s, sh, _bp in plan.positions_after[1:])
    assert new.shares[0] == pytest.approx(plan.cash_after, abs=0.005)
    assert new.cumulative_cash_in == 8000
    # a second run the same afternoon appends nothing
    assert not update_ledger_month_end(path, h, plan, enabled=True,
                                       now=dt.datetime(2024, 5, 31, 16, 0))


def test_diagnostic_names_a_held_symbol_without_a_quote_instead_of_writing_nan(
        tmp_path: Path) -> None:
    h = holdings(["CASH", "GONE", "AAA"], [100, 5, 10], [1, 20, 10])
    path = append_diagnostic(tmp_path, when=dt.datetime(2024, 1, 2, 15, 30),
                             holdings=h, prices={**PRICES, "AAA": float("nan")}, picks=[])
    text = path.read_text()
    assert "nan" not in text.lower()
    assert "held_price: 1.00 0.00 0.00\nheld_unquoted: GONE AAA\n" in text


def test_trimming_buys_ends_for_an_amount_beyond_float_precision() -> None:
    # 1e18 dollars: a one-share cut does not change the amount; the loop must still end
    h = holdings(["CASH"], [1e18], [1])
    pv, plan = plan_for(h, [pick("AAA", 0.5), pick("BBB", 0.5, 2)], fee=4.95)
    assert plan.cash_after >= -1e3

# ---- real quotes end to end (data-quality.md sections 1 and 4) ------------------------
def _gappy_analysis(last_nan: list[int] = (), never: bool = False, stale_from: int | None = None):
    """A small universe analyzed for real, with the top pick's quotes removed as asked."""
    import numpy as np

    from pytaaa.config import Valuation
    from pytaaa.engine.analysis import analyze_quotes
    from pytaaa.model import Quotes

    rng = np.random.default_rng(11)
    n, t = 8, 700
    drift = np.linspace(0.0015, -0.0005, n)[:, None]
    close = 30 * np.exp(np.cumsum(rng.normal(0, 0.01, (n, t)) + drift, axis=1))
    d = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-01") + 2 * t)
    d = d[np.is_busday(d)][:t]
    symbols = tuple(f"S{i}" for i in range(n))
    if never:
        close = np.vstack([close, np.full((1, t), np.nan)])
        symbols += ("GONE",)
    v = Valuation.model_validate(dict(
        symbols_file="s.txt", performance_store="p", webpage="w", stockList="Naz100",
        uptrendSignalMethod="SMAs", numberStocksTraded=3, monthsToHold=1, LongPeriod=40,
        stddevThreshold=5.0, MA1=60, MA2=5, MA3=12, sma2factor=0.9))
    full = analyze_quotes(Quotes(d, symbols, close), v)
    top = full.picks[0].symbol
    i = symbols.index(top)
    for j in last_nan:
        close[i, j] = np.nan
    if stale_from is not None:
        close[i, stale_from:] = np.nan
    return full, analyze_quotes(Quotes(d, symbols, close), v), top


def test_missing_quote_today_keeps_the_pick_and_suggests_no_sell() -> None:
    """Before: a pick without a quote for the last day dropped out of the picks and
    the plan said SELL ... (exit)."""
    from pytaaa.account import trades as tr

    full, a, top = _gappy_analysis(last_nan=[-1])
    assert [p.symbol for p in a.picks] == [p.symbol for p in full.picks]
    p = next(p for p in a.picks if p.symbol == top)
    assert not p.quoted and p.quote_date == a.dates[-2].astype("datetime64[D]").item()
    held_price = tr.prices_today(a)[top]
    h = holdings(["CASH", top], [1000, 50], [1, held_price])
    pv = tr.value_holdings(h, tr.prices_today(a), date=a.last_date,
                           quote_dates=tr.quote_dates(a), stale=tr.stale_today(a))
    pos = next(x for x in pv.positions if x.symbol == top)
    assert not pos.quoted and pos.price == held_price
    assert pos.flag == f"last quote {p.quote_date.isoformat()}"
    plan = suggest_trades(pv, a.picks)
    assert not any(t.symbol == top for t in plan.trades)
    assert (top, 50.0, held_price) in plan.positions_after
    # not held: it is not bought without a quote today, and the plan says why
    pv2 = tr.value_holdings(holdings(["CASH"], [10000], [1]), tr.prices_today(a),
                            date=a.last_date, quote_dates=tr.quote_dates(a))
    plan2 = suggest_trades(pv2, a.picks)
    assert not any(t.symbol == top for t in plan2.trades)
    assert any(s.symbol == top and "no quote today" in s.reason for s in plan2.skipped)


def test_never_quoted_holding_valued_at_buy_price_and_flagged() -> None:
    """Before: an all-empty column became 1.0 and the holding was valued (and sold) at $1.00."""
    from pytaaa.account import trades as tr

    _full, a, _top = _gappy_analysis(never=True)
    prices = tr.prices_today(a)
    assert "GONE" not in prices
    h = holdings(["CASH", "GONE"], [100, 10], [1, 55.0])
    pv = tr.value_holdings(h, prices, date=a.last_date, quote_dates=tr.quote_dates(a),
                           stale=tr.stale_today(a))
    pos = next(x for x in pv.positions if x.symbol == "GONE")
    assert pos.price == 55.0 and pos.value == 550.0 and pos.flag == "not quoted"
    plan = suggest_trades(pv, a.picks)
    assert not any(t.symbol == "GONE" for t in plan.trades)
    assert not any(p.symbol == "GONE" for p in a.picks)


def test_stale_holding_is_sold_at_its_last_quote() -> None:
    from pytaaa.account import trades as tr

    _full, a, top = _gappy_analysis(stale_from=-20)
    assert top in tr.stale_today(a) and top not in [p.symbol for p in a.picks]
    last = tr.prices_today(a)[top]
    h = holdings(["CASH", top], [100, 10], [1, 20.0])
    pv = tr.value_holdings(h, tr.prices_today(a), date=a.last_date,
                           quote_dates=tr.quote_dates(a), stale=tr.stale_today(a))
    assert next(x for x in pv.positions if x.symbol == top).flag.startswith("stale: last quote")
    plan = suggest_trades(pv, a.picks)
    sell = next(t for t in plan.trades if t.symbol == top)
    assert (sell.action, sell.reason, sell.price, sell.shares) == ("SELL", "stale", last, 10.0)
