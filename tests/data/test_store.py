"""The quote store: PyTAAA layout, errors, side files, CSV import, merge, CLI."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from pytaaa.cli.data import data
from pytaaa.data.store import (
    StoreError,
    adj_close_from_download,
    import_csv,
    merge_into_store,
    read_company_names,
    read_csv_quotes,
    read_index_changes,
    read_store,
    read_symbols_file,
    store_location,
    update_from_yfinance,
    write_store,
)
from pytaaa.model import Quotes


def _pytaaa_store(folder: Path, frame: pd.DataFrame, key: str = "Naz100_Symbols") -> Path:
    """Write ``frame`` the way PyTAAA does (pandas + PyTables, table format)."""
    frame.to_hdf(folder / f"{key}_.hdf5", key=key, format="table", mode="w")
    return folder / "naz100_symbols.txt"


def _quotes() -> Quotes:
    dates = np.array(["2021-03-01", "2021-03-02", "2021-03-03"], dtype="datetime64[D]")
    close = np.array([[10.0, np.nan, 12.5], [3.0, 3.1, 3.2], [1.0, 1.0, 1.0]])
    return Quotes(dates=dates, symbols=("ZZQ", "AQX", "CASH"), close=close)


# ---- location --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stem", "name"),
    [
        ("naz100_symbols", "Naz100_Symbols"),
        ("Naz100_Symbols", "Naz100_Symbols"),
        ("SP500_SYMBOLS", "SP500_Symbols"),
        ("sp500_symbols", "SP500_Symbols"),
        ("symbols", "TAA-Symbols"),
        ("my_list", "my_list"),
    ],
)
def test_store_location_naming(tmp_path: Path, stem: str, name: str) -> None:
    path, key = store_location(tmp_path / f"{stem}.txt")
    assert key == name
    assert path == tmp_path / f"{name}_.hdf5"


# ---- reading PyTAAA's layout ------------------------------------------------------


def test_read_string_index_with_cash(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"CASH": [1.0, 1.0, 1.0], "BQRT": [5.0, 2.0, np.nan], "AAPX": [7.0, 6.0, 8.0]},
        index=["2020-01-03", "2020-01-02", "2020-01-06"],
    )
    quotes = read_store(_pytaaa_store(tmp_path, frame))
    assert quotes.symbols == ("BQRT", "AAPX", "CASH")
    assert quotes.dates.dtype == np.dtype("datetime64[D]")
    assert quotes.dates.tolist() == [dt.date(2020, 1, 2), dt.date(2020, 1, 3), dt.date(2020, 1, 6)]
    np.testing.assert_array_equal(quotes.close[0], [2.0, 5.0, np.nan])
    np.testing.assert_array_equal(quotes.close[1], [6.0, 7.0, 8.0])
    np.testing.assert_array_equal(quotes.close[2], [1.0, 1.0, 1.0])
    assert quotes.close.dtype == np.float64 and quotes.close.flags.c_contiguous


def test_repeated_dates_in_a_store_are_an_error_naming_them(tmp_path: Path) -> None:
    """data-quality.md 3: a store with duplicate dates is a clear error naming the dates
    (before: the last row won silently); the raw reader still sees every row."""
    frame = pd.DataFrame({"BQRT": [5.0, 2.0, 9.0, 4.0]},
                         index=["2020-01-03", "2020-01-02", "2020-01-03", "2020-01-06"])
    sym = _pytaaa_store(tmp_path, frame)
    with pytest.raises(StoreError, match=r"1 repeated dates \(2020-01-03\).*data check --fix"):
        read_store(sym)
    assert read_store(sym, raw=True).close.shape == (1, 4)


@pytest.mark.parametrize("bad", ["", "A B", "X\nY", "AB;C", "A,B", "'Q'", "x" * 30])
def test_bad_tickers_are_rejected_by_name_when_the_store_is_read(tmp_path: Path, bad) -> None:
    """Before: a ticker with a space or line break shifted the ranks file and an empty
    one half-updated the outputs."""
    frame = pd.DataFrame({"GOOD": [1.0, 2.0], bad: [3.0, 4.0]}, index=["2020-01-02", "2020-01-03"])
    with pytest.raises(StoreError, match=r"column 2 .* is not a usable ticker"):
        read_store(_pytaaa_store(tmp_path, frame))


def test_read_datetime_index_without_cash(tmp_path: Path) -> None:
    index = pd.to_datetime(["2019-12-30", "2019-12-31", "2020-01-02"])
    frame = pd.DataFrame({"KZTA": [1.0, 2.0, 3.0], "MQXE": [4.0, np.nan, 6.0]}, index=index)
    quotes = read_store(_pytaaa_store(tmp_path, frame))
    assert quotes.symbols == ("KZTA", "MQXE")
    assert quotes.last_date == dt.date(2020, 1, 2)
    np.testing.assert_array_equal(quotes.close, [[1.0, 2.0, 3.0], [4.0, np.nan, 6.0]])


def test_read_treats_bad_prices_as_missing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    frame = pd.DataFrame({"AQX": [1.0, np.inf, 0.0, -2.0, 5.0]},
                         index=[f"2020-01-0{d}" for d in range(1, 6)])
    with caplog.at_level(logging.WARNING):
        quotes = read_store(_pytaaa_store(tmp_path, frame))
    np.testing.assert_array_equal(quotes.close[0], [1.0, np.nan, np.nan, np.nan, 5.0])
    assert "3 non-finite or non-positive" in caplog.text


@pytest.mark.parametrize("string_index", [True, False])
def test_write_read_round_trip(tmp_path: Path, string_index: bool) -> None:
    quotes = _quotes()
    path, key = store_location(tmp_path / "sub" / "symbols.txt")
    write_store(path, key, quotes, string_index=string_index)
    assert sorted(p.name for p in path.parent.iterdir()) == ["TAA-Symbols_.hdf5"]  # no temp left
    back = read_store(tmp_path / "sub" / "symbols.txt")
    assert back.symbols == quotes.symbols
    np.testing.assert_array_equal(back.dates, quotes.dates)
    np.testing.assert_array_equal(back.close, quotes.close)
    # the layout PyTAAA reads: a pandas table, dates as strings or datetimes
    with pd.HDFStore(path, mode="r") as h5:
        assert h5.get_storer(key).is_table
        frame = h5.get(key)
    assert list(frame.columns) == ["ZZQ", "AQX", "CASH"]
    if string_index:
        assert frame.index[0] == "2021-03-01"
    else:
        assert isinstance(frame.index, pd.DatetimeIndex)


def test_write_replaces_the_old_store(tmp_path: Path) -> None:
    quotes = _quotes()
    path, key = store_location(tmp_path / "naz100_symbols.txt")
    write_store(path, key, quotes)
    smaller = Quotes(quotes.dates[:2], quotes.symbols[1:], quotes.close[1:, :2])
    write_store(path, key, smaller)
    assert read_store(tmp_path / "naz100_symbols.txt").symbols == ("AQX", "CASH")


# ---- store errors ------------------------------------------------------------------


def test_missing_store_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as err:
        read_store(tmp_path / "naz100_symbols.txt")
    msg = str(err.value)
    assert "Naz100_Symbols_.hdf5" in msg and "Naz100_Symbols" in msg
    assert "file not found" in msg and "pytaaa data synth" in msg and "import-csv" in msg


def test_missing_key_lists_the_keys_found(tmp_path: Path) -> None:
    frame = pd.DataFrame({"AQX": [1.0]}, index=["2020-01-02"])
    frame.to_hdf(tmp_path / "Naz100_Symbols_.hdf5", key="Other_List", format="table")
    with pytest.raises(StoreError) as err:
        read_store(tmp_path / "naz100_symbols.txt")
    msg = str(err.value)
    assert "Naz100_Symbols_.hdf5" in msg and "no key 'Naz100_Symbols'" in msg
    assert "'Other_List'" in msg and "pytaaa data synth" in msg


@pytest.mark.parametrize("content", [b"", b"this is not an HDF5 file\n" * 20])
def test_garbage_file(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "SP500_Symbols_.hdf5").write_bytes(content)
    with pytest.raises(StoreError) as err:
        read_store(tmp_path / "sp500_symbols.txt")
    assert "SP500_Symbols_.hdf5" in str(err.value) and "not a readable HDF5" in str(err.value)


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (pd.DataFrame({"AQX": ["1.5", "abc"]}, index=["2020-01-02", "2020-01-03"]),
         "'AQX' holds the non-numeric value 'abc'"),
        (pd.DataFrame({"AQX": [1.0, 2.0]}, index=["2020-01-02", "02/01/2020x"]),
         "unparseable date '02/01/2020x'"),
        (pd.DataFrame({"AQX": [1.0, 2.0]}, index=["2020-01-02", "17"]), "unparseable date '17'"),
        (pd.DataFrame({"CASH": [1.0]}, index=["2020-01-02"]), "only a CASH column"),
    ],
)
def test_bad_store_content(tmp_path: Path, frame: pd.DataFrame, expected: str) -> None:
    symbols = _pytaaa_store(tmp_path, frame)
    with pytest.raises(StoreError) as err:
        read_store(symbols)
    assert expected in str(err.value)
    assert "Naz100_Symbols_.hdf5" in str(err.value)


def test_empty_store(tmp_path: Path) -> None:
    empty = pd.DataFrame({"AQX": pd.Series([], dtype=float)}, index=pd.Index([], dtype=object))
    empty.to_hdf(tmp_path / "Naz100_Symbols_.hdf5", key="Naz100_Symbols", format="fixed")
    with pytest.raises(StoreError, match=r"Naz100_Symbols_.hdf5 .*empty \(0 dates, 1 columns\)"):
        read_store(tmp_path / "naz100_symbols.txt")


def test_numeric_strings_are_read(tmp_path: Path) -> None:
    frame = pd.DataFrame({"AQX": ["1.5", None, "2"]}, index=["2020-01-02", "2020-01-03", "2020-01-06"])
    quotes = read_store(_pytaaa_store(tmp_path, frame))
    np.testing.assert_array_equal(quotes.close[0], [1.5, np.nan, 2.0])


# ---- side files --------------------------------------------------------------------


def test_read_symbols_file(tmp_path: Path) -> None:
    path = tmp_path / "naz100_symbols.txt"
    path.write_bytes(b"# Nasdaq list\r\nAQX\r\n\r\nZZQ  # a comment\r\nAQX\r\nKPZ\n")
    assert read_symbols_file(path) == ["AQX", "ZZQ", "KPZ"]
    with pytest.raises(StoreError, match="nope.txt: file not found"):
        read_symbols_file(tmp_path / "nope.txt")


def test_company_names(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    symbols = tmp_path / "naz100_symbols.txt"
    assert read_company_names(symbols) == {}
    (tmp_path / "companyNames.txt").write_text("AQX;Generic Corp\n")
    assert read_company_names(symbols) == {"AQX": "Generic Corp"}
    # the list's own file wins; CRLF, comments, a ';' inside a name, a bad line
    (tmp_path / "Naz100_Symbols_companyNames.txt").write_bytes(
        b"\xef\xbb\xbf# names\r\nAQX;Aqx Systems Inc.\r\nZZQ ; Zz; Quartz Ltd.\r\nbroken line\r\n"
    )
    with caplog.at_level(logging.WARNING):
        names = read_company_names(symbols)
    assert names == {"AQX": "Aqx Systems Inc.", "ZZQ": "Zz; Quartz Ltd."}
    assert "line 4" in caplog.text and "broken line" in caplog.text


def test_index_changes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    symbols = tmp_path / "sp500_symbols.txt"
    assert read_index_changes(symbols) == []
    (tmp_path / "SP500_Symbols_symbolsChanges.txt").write_bytes(
        b"2019-3-5 Add AQX\r\n2021-12-20 remove ZZQ\r\n# note\r\n2021-12-20 Add KPZ\r\n"
        b"2020-13-40 Add BAD\r\nsomething else\r\n2019-03-05   REMOVE  OLD\r\n"
    )
    with caplog.at_level(logging.WARNING):
        changes = read_index_changes(symbols)
    assert changes == [
        (dt.date(2021, 12, 20), "Remove", "ZZQ"),
        (dt.date(2021, 12, 20), "Add", "KPZ"),
        (dt.date(2019, 3, 5), "Add", "AQX"),
        (dt.date(2019, 3, 5), "Remove", "OLD"),
    ]
    assert "line 5" in caplog.text and "line 6" in caplog.text


# ---- CSV import --------------------------------------------------------------------


def _yahoo_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    lines = ["Date,Open,High,Low,Close,Adj Close,Volume"]
    lines += [f"{d},1,1,1,1,{v},100" for d, v in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_import_per_ticker_files(tmp_path: Path) -> None:
    a = _yahoo_csv(tmp_path / "aqx.csv", [("2021-01-05", "10.5"), ("2021-01-04", "10"), ("2021-01-06", "null")])
    z = _yahoo_csv(tmp_path / "ZZQ.csv", [("2021-01-06", "3.25"), ("2021-01-07", "3.5")])
    symbols = tmp_path / "store" / "naz100_symbols.txt"
    quotes = import_csv([a, z], symbols)
    assert quotes.symbols == ("AQX", "ZZQ")
    assert [str(d) for d in quotes.dates] == ["2021-01-04", "2021-01-05", "2021-01-06", "2021-01-07"]
    np.testing.assert_array_equal(quotes.close, [[10, 10.5, np.nan, np.nan], [np.nan, np.nan, 3.25, 3.5]])
    back = read_store(symbols)
    np.testing.assert_array_equal(back.close, quotes.close)
    assert read_symbols_file(symbols) == ["AQX", "ZZQ"]


def test_import_wide_file(tmp_path: Path) -> None:
    wide = tmp_path / "closes.csv"
    wide.write_text("Date,AQX,ZZQ\n2021-01-04,1.5,\n2021-01-05,1.6,7\n")
    quotes = import_csv([wide], tmp_path / "my_list.txt")
    assert quotes.symbols == ("AQX", "ZZQ")
    np.testing.assert_array_equal(quotes.close, [[1.5, 1.6], [np.nan, 7.0]])
    assert (tmp_path / "my_list_.hdf5").is_file()


def test_import_merges_into_existing_store(tmp_path: Path) -> None:
    symbols = tmp_path / "naz100_symbols.txt"
    old = Quotes(
        np.array(["2021-01-04", "2021-01-05"], dtype="datetime64[D]"),
        ("AQX", "BQZ", "CASH"),
        np.array([[1.0, 2.0], [5.0, 6.0], [1.0, 1.0]]),
    )
    path, key = store_location(symbols)
    write_store(path, key, old, string_index=False)
    symbols.write_text("# my list\nAQX\nBQZ")
    wide = tmp_path / "new.csv"
    wide.write_text("Date,AQX,NEWQ\n2021-01-05,2.5,\n2021-01-06,3.0,9\n")
    quotes = import_csv([wide], symbols)
    assert quotes.symbols == ("AQX", "BQZ", "NEWQ", "CASH")
    assert [str(d) for d in quotes.dates] == ["2021-01-04", "2021-01-05", "2021-01-06"]
    np.testing.assert_array_equal(
        quotes.close,
        [[1.0, 2.5, 3.0], [5.0, 6.0, np.nan], [np.nan, np.nan, 9.0], [1.0, 1.0, 1.0]],
    )
    assert symbols.read_text() == "# my list\nAQX\nBQZ\nNEWQ\n"
    # without merge the store is replaced
    quotes = import_csv([wide], symbols, merge=False)
    assert quotes.symbols == ("AQX", "NEWQ")
    assert read_symbols_file(symbols) == ["AQX", "NEWQ"]


def test_later_csv_wins(tmp_path: Path) -> None:
    one = _yahoo_csv(tmp_path / "AQX.csv", [("2021-01-04", "1"), ("2021-01-05", "2")])
    wide = tmp_path / "fix.csv"
    wide.write_text("Date,AQX\n2021-01-05,2.5\n")
    quotes = import_csv([one, wide], tmp_path / "symbols.txt")
    np.testing.assert_array_equal(quotes.close, [[1.0, 2.5]])


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("AQX.csv", "Day,Adj Close\n2021-01-04,1\n", "no 'Date' column (columns found: 'Day', 'Adj Close')"),
        ("AQX.csv", "Date,Open,High\n2021-01-04,1,1\n", "no price column next to the other"),
        ("AQX.csv", "Date,Adj Close\n2021-01-04,1\n2021-01-05,1.2.3\n", "line 3, column 'Adj Close': '1.2.3' is not a number"),
        ("AQX.csv", "Date,Adj Close\n2021-01-04,1\n04/01/2021,2\n", "line 3: '04/01/2021' is not a date"),
        ("wide.csv", "Date,AQX,\n2021-01-04,1,2\n", "is not a ticker"),
        ("wide.csv", "Date\n2021-01-04\n", "only a date column"),
        ("wide.csv", "Date,aqx,AQX\n2021-01-04,1,2\n", "ticker AQX has two columns"),
        ("bad name!.csv", "Date,Adj Close\n2021-01-04,1\n", "cannot take a ticker from the file name"),
        ("empty.csv", "", "cannot read as CSV"),
    ],
)
def test_csv_errors(tmp_path: Path, name: str, text: str, expected: str) -> None:
    src = tmp_path / name
    src.write_text(text)
    with pytest.raises(StoreError) as err:
        import_csv([src], tmp_path / "naz100_symbols.txt")
    assert expected in str(err.value)
    assert name in str(err.value)
    assert not (tmp_path / "Naz100_Symbols_.hdf5").exists()


def test_csv_missing_file_and_no_files(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="nope.csv: CSV file not found"):
        read_csv_quotes(tmp_path / "nope.csv")
    with pytest.raises(StoreError, match="no CSV files given"):
        import_csv([], tmp_path / "symbols.txt")


# ---- download ----------------------------------------------------------------------


def test_update_without_yfinance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yfinance", None)  # makes `import yfinance` fail
    with pytest.raises(StoreError, match=r"install pytaaa\[download\]"):
        update_from_yfinance(tmp_path / "naz100_symbols.txt")


def test_download_frame_merges(tmp_path: Path) -> None:
    symbols = tmp_path / "naz100_symbols.txt"
    path, key = store_location(symbols)
    write_store(path, key, _quotes())
    idx = pd.DatetimeIndex(["2021-03-03", "2021-03-04", "2021-03-05"], name="Date")
    columns = pd.MultiIndex.from_product([["Adj Close", "Close"], ["AQX", "ZZQ"]], names=["Price", "Ticker"])
    values = np.array([[3.3, 12.0, 0, 0], [3.4, np.nan, 0, 0], [np.nan, np.nan, 0, 0]])
    download = pd.DataFrame(values, index=idx, columns=columns)
    frame = adj_close_from_download(download, ["AQX", "ZZQ"])
    assert list(frame.columns) == ["AQX", "ZZQ"] and len(frame) == 2  # empty last row dropped
    quotes = merge_into_store(symbols, frame)
    assert quotes.symbols == ("ZZQ", "AQX", "CASH")
    np.testing.assert_array_equal(
        quotes.close, [[10.0, np.nan, 12.0, np.nan], [3.0, 3.1, 3.3, 3.4], [1.0, 1.0, 1.0, 1.0]]
    )
    flat = pd.DataFrame({"Adj Close": [5.0], "Close": [5.1]}, index=pd.DatetimeIndex(["2021-03-08"]))
    assert list(adj_close_from_download(flat, ["AQX"]).columns) == ["AQX"]
    with pytest.raises(StoreError, match="no quotes"):
        adj_close_from_download(pd.DataFrame(), ["AQX"])


# ---- CLI -----------------------------------------------------------------------------


def test_cli_import_csv(tmp_path: Path) -> None:
    symbols = tmp_path / "naz100_symbols.txt"
    src = _yahoo_csv(tmp_path / "AQX.csv", [("2021-01-04", "10")])
    runner = CliRunner()
    ok = runner.invoke(data, ["import-csv", "--symbols-file", str(symbols), str(src)])
    assert ok.exit_code == 0, ok.output
    assert "1 symbols" in ok.output and "Naz100_Symbols_.hdf5" in ok.output
    bad = tmp_path / "ZZQ.csv"
    bad.write_text("Date,Adj Close\n2021-01-04,x\n")
    res = runner.invoke(data, ["import-csv", "--symbols-file", str(symbols), str(bad)])
    assert res.exit_code == 2   # bad input: exit 2, nothing written
    assert res.output.count("\n") == 1 and "line 2" in res.output and "Traceback" not in res.output
    res = runner.invoke(data, ["import-csv", str(src)])
    assert res.exit_code == 2 and "exactly one of --json" in res.output
    res = runner.invoke(data, ["import-csv", "--json", str(tmp_path / "none.json"), str(src)])
    assert res.exit_code == 2 and "config file not found" in res.output


def test_cli_update_without_yfinance(synth_workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yfinance", None)
    res = CliRunner().invoke(data, ["update", "--json", str(synth_workspace)])
    assert res.exit_code == 1 and "install pytaaa[download]" in res.output
