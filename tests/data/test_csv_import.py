"""CSV import of real-shaped files written by hand: Yahoo (with a phantom last row),
Stooq, Investing (M/D/YYYY, quoted thousands), FRED ('.' for missing), a pandas-written
wide file, D.M.YYYY and YYYYMMDD dates, a BOM, --date-format / --price-column / --ticker,
repeated dates, and the rejections (file, line, what was expected)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from pytaaa.data.store import StoreError, import_csv, read_csv_quotes, read_store

YAHOO = """Date,Open,High,Low,Close,Adj Close,Volume
2026-11-24,230.1,232.0,229.5,231.2,230.9,51234500
2026-11-25,231.0,233.4,230.2,233.0,232.7,48211000
2026-11-26,233.1,234.0,231.8,232.4,232.1,30111200
2026-11-28,null,null,null,null,null,null
2026-11-30
"""

STOOQ = """Date,Open,High,Low,Close,Volume
2026-11-24,101.5,102.0,100.9,101.8,1200000
2026-11-25,101.9,103.1,101.7,102.9,1100000
2026-11-26,103.0,103.2,102.1,102.4,900000
"""

INVESTING = '''"Date","Price","Open","High","Low","Vol.","Change %"
"11/26/2026","1,234.50","1,230.00","1,240.10","1,228.40","3.21M","0.35%"
"11/25/2026","1,230.20","1,225.00","1,233.00","1,220.00","2.80M","-0.12%"
"11/13/2026","1,231.70","1,229.00","1,235.00","1,226.10","2.10M","0.10%"
'''

FRED = """observation_date,DGS10
2026-11-24,4.21
2026-11-25,.
2026-11-26,4.19
"""

WIDE_PANDAS = """,AAA,BBB,CCC
2026-11-24,10.0,20.0,
2026-11-25,10.5,,30.5
2026-11-26,10.4,20.2,30.1
2026-11-26,10.6,20.4,30.3
"""


def _write(tmp_path: Path, name: str, text: str, bom: bool = False) -> Path:
    p = tmp_path / name
    p.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return p


def test_yahoo_with_a_phantom_last_row_adds_no_day(tmp_path: Path):
    """Before: the short / all-null last row became a trading day on which every other
    ticker was missing, and the next run said `picks: CASH 100%`."""
    f = read_csv_quotes(_write(tmp_path, "AAPL.csv", YAHOO, bom=True))
    assert list(f.columns) == ["AAPL"]
    assert [d.date() for d in f.index] == [dt.date(2026, 11, 24), dt.date(2026, 11, 25),
                                           dt.date(2026, 11, 26)]
    np.testing.assert_allclose(f["AAPL"], [230.9, 232.7, 232.1])   # Adj Close wins
    other = _write(tmp_path, "MSFT.csv", STOOQ)
    q = import_csv([tmp_path / "AAPL.csv", other], tmp_path / "naz100_symbols.txt")
    assert q.dates[-1] == np.datetime64("2026-11-26")
    assert np.isfinite(q.close[:, -1][[s != "CASH" for s in q.symbols]]).all()


def test_stooq_close_only(tmp_path: Path):
    f = read_csv_quotes(_write(tmp_path, "msft.us.txt", STOOQ))
    assert list(f.columns) == ["MSFT.US"]
    np.testing.assert_allclose(f.iloc[:, 0], [101.8, 102.9, 102.4])


def test_investing_month_day_dates_and_thousands(tmp_path: Path):
    f = read_csv_quotes(_write(tmp_path, "export.csv", INVESTING), ticker="SPX")
    assert list(f.columns) == ["SPX"]
    assert f.index[0].date() == dt.date(2026, 11, 13)          # 13 > 12: month/day
    np.testing.assert_allclose(f["SPX"], [1231.7, 1230.2, 1234.5])


def test_fred_dot_is_missing(tmp_path: Path):
    f = read_csv_quotes(_write(tmp_path, "fred.csv", FRED))
    assert list(f.columns) == ["DGS10"]
    assert len(f) == 2 and f.index[1].date() == dt.date(2026, 11, 26)


def test_pandas_wide_file_unnamed_index_and_repeated_date_last_wins(tmp_path: Path):
    f = read_csv_quotes(_write(tmp_path, "closes.csv", WIDE_PANDAS))
    assert list(f.columns) == ["AAA", "BBB", "CCC"]
    assert len(f) == 3
    np.testing.assert_allclose(f.iloc[-1], [10.6, 20.4, 30.3])
    assert np.isnan(f.loc["2026-11-24", "CCC"])


@pytest.mark.parametrize("dates, fmt", [
    (("24.11.2026", "25.11.2026"), None),
    (("20261124", "20261125"), None),
    (("24/11/2026", "25/11/2026"), None),            # 24 > 12: day/month
    (("11/03/2026", "11/04/2026"), "%d/%m/%Y"),      # ambiguous: needs --date-format
])
def test_date_layouts(tmp_path: Path, dates, fmt):
    text = "Date,Close\n" + "".join(f"{d},{i + 10}\n" for i, d in enumerate(dates))
    f = read_csv_quotes(_write(tmp_path, "X.csv", text), date_format=fmt)
    assert len(f) == 2 and f.index[0] < f.index[1]


def test_price_column_option(tmp_path: Path):
    f = read_csv_quotes(_write(tmp_path, "AAPL.csv", YAHOO), price_column="Close")
    np.testing.assert_allclose(f["AAPL"], [231.2, 233.0, 232.4])


@pytest.mark.parametrize("name, text, kw, expected", [
    ("X.csv", "Date,Close\n11/03/2026,1\n11/04/2026,2\n", {},
     "read as month/day and as day/month; expected --date-format"),
    ("X.csv", "Date,Close\n2026-11-24,1\n25.11.2026,2\n", {},
     r"X.csv, line 3: '25.11.2026' is not a date"),
    ("X.csv", "Date,Close\n2026-11-24,1\n2026-11-25,abc\n", {},
     r"line 3, column 'Close': 'abc' is not a number"),
    ("X.csv", "Date,Close\n2026-11-24,1\n", {"price_column": "Adj Close"},
     r"no column 'Adj Close' \(columns found: 'Date', 'Close'\)"),
    ("X.csv", "Date,Close\n24/11/2026,1\n", {"date_format": "%Y-%m-%d"},
     r"line 2: '24/11/2026' is not a date in the format %Y-%m-%d"),
    ("X.csv", "Date,Close\n2026-11-24,null\n", {}, "no row with a date and a quote"),
])
def test_rejections_name_file_line_and_expectation(tmp_path: Path, name, text, kw, expected):
    path = _write(tmp_path, name, text)
    with pytest.raises(StoreError, match=expected):
        read_csv_quotes(path, **kw)
    with pytest.raises(StoreError):
        import_csv([path], tmp_path / "naz100_symbols.txt", **kw)
    assert not (tmp_path / "Naz100_Symbols_.hdf5").exists()   # nothing written


def test_cli_import_options(tmp_path: Path):
    from click.testing import CliRunner

    from pytaaa.cli.data import data

    src = _write(tmp_path, "export.csv", INVESTING)
    sym = tmp_path / "naz100_symbols.txt"
    res = CliRunner().invoke(data, ["import-csv", "--symbols-file", str(sym), "--ticker", "SPX",
                                    "--price-column", "Price", str(src)])
    assert res.exit_code == 0, res.output
    assert read_store(sym).symbols == ("SPX",)
    bad = CliRunner().invoke(data, ["import-csv", "--symbols-file", str(sym), "--date-format",
                                    "%d.%m.%Y", str(src)])
    assert bad.exit_code != 0 and "is not a date in the format %d.%m.%Y" in bad.output
