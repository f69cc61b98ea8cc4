"""Holdings and status files in PyTAAA's formats, the timing signal, the month-end block."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import numpy as np
import pytest

from pytaaa.account.ledger import (
    HoldingsError,
    StatusEntry,
    StatusHistory,
    append_holdings_block,
    append_status,
    next_status_entry,
    parse_holdings,
    read_holdings,
    read_status,
    timing_signal,
)

PYTAAA_HOLDINGS = (
    "[Holdings]\n"
    "# first purchase\n"
    "TradeDate: 2013-1-2\n"
    "stocks:      CASH AAPL MSFT\n"
    "shares:      100.5 10 20\n"
    "buyprice:    1.00 500.00 27.5\n"
    "cumulativecashin: 10000\n"
    "\n"
    "TradeDate: 2013-02-01\n"
    "stocks:      CASH aapl GOOG\n"
    "shares:      50 10 3\n"
    "buyprice:    1.0 510.25 750\n"
    "cumulativecashin: 12000\n"
)


@pytest.mark.parametrize("newline", ["\n", "\r", "\r\n"])
def test_holdings_last_keys_win_with_any_line_ending(tmp_path: Path, newline: str) -> None:
    path = tmp_path / "PyTAAA_holdings.params"
    path.write_bytes(PYTAAA_HOLDINGS.replace("\n", newline).encode())
    h = read_holdings(path)
    assert h.symbols == ("CASH", "AAPL", "GOOG")
    assert h.shares == (50.0, 10.0, 3.0)
    assert h.buy_prices == (1.0, 510.25, 750.0)
    assert h.cumulative_cash_in == 12000.0
    assert h.first_trade_date == dt.date(2013, 1, 2)
    assert h.last_trade_date == dt.date(2013, 2, 1)
    assert h.cost == pytest.approx(50 + 5102.5 + 2250)


def test_holdings_tolerates_other_sections_continuations_and_date_spellings() -> None:
    text = (
        "[Other]\nstocks: IGNORED\n"
        "[Holdings]\n"
        "trade_date = 03/15/2014\n"
        "stocks: CASH, AAPL,\n"
        "   MSFT\n"
        "shares: 10 1\n   2\n"
        "buyprice: 1 2 3\n"
        "cumulativecashin: 100 200\n"
        "TradeDate: someday\n"
    )
    h = parse_holdings(text)
    assert h.symbols == ("CASH", "AAPL", "MSFT")
    assert h.shares == (10.0, 1.0, 2.0)
    assert h.first_trade_date == dt.date(2014, 3, 15)
    assert h.cumulative_cash_in == 100.0


def test_holdings_without_trade_date_or_cash_in() -> None:
    h = parse_holdings("[Holdings]\nstocks: CASH A\nshares: 5 2\nbuyprice: 1 10\n")
    assert h.first_trade_date is None
    assert h.cumulative_cash_in == 25.0  # the cost basis


@pytest.mark.parametrize(("text", "message"), [
    ("stocks: A\n", "no [Holdings] section"),
    ("[Holdings]\nstocks: A B\nshares: 1\nbuyprice: 1 2\n",
     "'stocks' has 2 entries, 'shares' 1, 'buyprice' 2"),
    ("[Holdings]\nstocks: A\nshares: ten\nbuyprice: 1\n",
     "line 3: key 'shares': 'ten' is not a number"),
    ("[Holdings]\nstocks: A\nshares: -1\nbuyprice: 1\n", "'-1' must be a number between 0 and 1e+12"),
    ("[Holdings]\nstocks: A\nbuyprice: 1\n", "has no 'shares:' key"),
    ("[Holdings]\nstocks: A\n!!!\n", "line 3: cannot read '!!!'"),
])
def test_holdings_errors_name_file_line_and_key(text: str, message: str) -> None:
    with pytest.raises(HoldingsError) as err:
        parse_holdings(text, "/x/PyTAAA_holdings.params")
    assert message in str(err.value)
    assert str(err.value).startswith("/x/PyTAAA_holdings.params")


def test_missing_holdings_file_explains_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(HoldingsError, match="not found; create it with a \\[Holdings\\]"):
        read_holdings(tmp_path / "PyTAAA_holdings.params")


def test_month_end_block_appended_once_keeping_cr_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "PyTAAA_holdings.params"
    path.write_bytes(PYTAAA_HOLDINGS.replace("\n", "\r").encode())
    positions = [("CASH", 123.45, 1.0), ("AAPL", 12, 505.125), ("NVDA", 4, 99.5)]
    assert append_holdings_block(path, dt.date(2013, 2, 28), positions, 12000) is True
    data = path.read_bytes()
    assert b"\n" not in data  # still CR only
    h = read_holdings(path)
    assert h.symbols == ("CASH", "AAPL", "NVDA")
    assert h.shares == (123.45, 12.0, 4.0)
    assert h.buy_prices == (1.0, 505.125, 99.5)
    assert "buyprice:    1.00 505.125 99.50\r" in path.read_bytes().decode()
    assert h.last_trade_date == dt.date(2013, 2, 28)
    assert h.first_trade_date == dt.date(2013, 1, 2)
    # the same day again: nothing appended
    assert append_holdings_block(path, dt.date(2013, 2, 28), positions, 12000) is False
    assert path.read_bytes() == data
    assert not list(tmp_path.glob("*.tmp"))


def test_overlapping_month_end_appends_add_exactly_one_block(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "PyTAAA_holdings.params"
    path.write_text(PYTAAA_HOLDINGS)
    code = ("import datetime as dt, sys\n"
            "from pytaaa.account.ledger import append_holdings_block\n"
            "ok = append_holdings_block(sys.argv[1], dt.date(2013, 2, 28), "
            "[('CASH', 100.0, 1.0)], 12000)\n"
            "print(int(ok))\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE,
                              text=True) for _ in range(4)]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert sorted(outs) == ["0", "0", "0", "1"]  # the check and the append are one step
    assert path.read_text().count("TradeDate: 2013-02-28") == 1


STATUS_TEXT = (
    "[Status]\n"
    "cumu_value: 2013-02-07 09:49:32.734000 10010.8 1\n"
    "cumu_value: 2013-02-07 16:10:02.000001 10020.0 1\n"
    "cumu_value: 2013-02-08 10:00:00 10100.5 0 10090.1\n"
    "cumu_value: garbage line\n"
    "cumu_value: 2013-02-11 10:00:00.5 9999.0\n"
)


@pytest.mark.parametrize("newline", ["\n", "\r", "\r\n"])
def test_status_reader_accepts_old_lines_and_line_endings(
    tmp_path: Path, newline: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "PyTAAA_status.params"
    path.write_bytes(STATUS_TEXT.replace("\n", newline).encode())
    with caplog.at_level(logging.WARNING):
        hist = read_status(path)
    assert len(hist.entries) == 4
    assert hist.entries[0] == StatusEntry(dt.datetime(2013, 2, 7, 9, 49, 32, 734000), 10010.8, 1)
    assert hist.entries[2].timed_value == 10090.1
    assert hist.entries[3].signal is None
    assert "line 5" in caplog.text  # the garbage line is named and skipped
    dates, values = hist.daily()
    assert [str(d) for d in dates] == ["2013-02-07", "2013-02-08", "2013-02-11"]
    assert values.tolist() == [10020.0, 10100.5, 9999.0]  # last value of each day
    assert hist.last.value == 9999.0


def test_missing_status_file_is_empty_history(tmp_path: Path) -> None:
    hist = read_status(tmp_path / "nope.params")
    assert hist.entries == () and hist.last is None


def test_timing_signal_hand_computed() -> None:
    # channel windows x[max(1,t-p)..t]: t=0 -> 100; t=1 -> [110]; t=2 -> [110, 99]
    # t=3 -> [110, 99, 120].  mid = 100, 110, 104.5, 109.5
    # m = SMA(mid, 5) (mean of the points so far) = 100, 105, 104.8333, 106
    # signal = 0 where m > mid: 1, 1, 0, 1
    # TV: 100, 110 (s0=1), 99 (s1=1), 99 (s2=0: flat)
    signal, timed = timing_signal(np.array([100.0, 110.0, 99.0, 120.0]))
    assert signal.tolist() == [1, 1, 0, 1]
    assert timed.tolist() == pytest.approx([100.0, 110.0, 99.0, 99.0])


def _reference_timing(v: list[float]) -> tuple[list[int], list[float]]:
    """A straightforward loop over pipeline.md section 8."""
    n = len(v)
    mid = []
    for t in range(n):
        if t == 0:
            mid.append(v[0])
            continue
        lows, highs = [], []
        for p in (5, 9, 13, 17):
            w = v[max(1, t - p): t + 1]
            lows.append(min(w))
            highs.append(max(w))
        mid.append((sum(lows) / 4 + sum(highs) / 4) / 2)
    sig = []
    for t in range(n):
        window = mid[max(0, t - 5): t + 1]
        m = sum(window) / len(window)
        sig.append(0 if m > mid[t] else 1)
    sig[0] = 1
    tv = [v[0]]
    for k in range(1, n):
        tv.append(tv[-1] * (1 + (v[k] / v[k - 1] - 1) * sig[k - 1]))
    return sig, tv


def test_timing_signal_matches_reference_loop() -> None:
    rng = np.random.default_rng(7)
    v = (10000 * np.cumprod(1 + rng.normal(0.0005, 0.02, 120))).tolist()
    sig, tv = _reference_timing(v)
    signal, timed = timing_signal(np.array(v))
    assert signal.tolist() == sig
    assert timed == pytest.approx(tv, rel=1e-12)
    assert 0 < sum(sig) < len(sig)  # the example exercises both states


def test_next_entry_uses_daily_last_values_and_appends_atomically(tmp_path: Path) -> None:
    path = tmp_path / "PyTAAA_status.params"
    hist = StatusHistory()
    values = {dt.datetime(2024, 1, d, 16): v for d, v in ((2, 100.0), (3, 110.0), (4, 99.0))}
    for when, v in values.items():
        entry = next_status_entry(hist, when, v)
        append_status(path, entry)
        hist = read_status(path)
    # a second run on day 4 replaces that day's value in the series
    entry = next_status_entry(hist, dt.datetime(2024, 1, 4, 18, 30, 0, 123456), 120.0)
    # daily series 100, 110, 120 -> channel mids 100, 110, 115 -> m 100, 105, 108.33: all 1
    assert (entry.signal, entry.timed_value) == (1, pytest.approx(120.0))
    append_status(path, entry)
    text = path.read_text()
    assert text.startswith("[Status]\n")
    assert text.splitlines()[-1] == "cumu_value: 2024-01-04 18:30:00.123456 120.00 1 120.00"
    assert len(read_status(path).entries) == 4
    assert not list(tmp_path.glob(".*tmp"))


def test_append_status_keeps_cr_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "PyTAAA_status.params"
    path.write_bytes(b"[Status]\rcumu_value: 2013-02-07 09:49:32.734000 10010.8 1")
    append_status(path, StatusEntry(dt.datetime(2013, 2, 8, 9, 0), 10011.0, 1, 10011.0))
    data = path.read_bytes()
    assert b"\n" not in data
    assert data.endswith(b"\rcumu_value: 2013-02-08 09:00:00.000000 10011.00 1 10011.00\r")
    assert [e.value for e in read_status(path).entries] == [10010.8, 10011.0]


def test_next_entry_rejects_non_finite_value() -> None:
    with pytest.raises(ValueError, match="finite"):
        next_status_entry(StatusHistory(), dt.datetime(2024, 1, 2), float("nan"))
