"""Reading the CSV files people actually have (``data-quality.md`` section 6).

:func:`read_csv_quotes` turns one file into a dates x tickers float64 frame:

- per-ticker files from Yahoo (``Date,Open,High,Low,Close,Adj Close,Volume``),
  Stooq (``Date,Open,High,Low,Close,Volume``), Investing (``"Date","Price",...``
  with ``1,234.50`` thousands separators) and FRED-style files (``DATE,VALUE`` or
  ``observation_date,DGS10`` with ``.`` for missing).  The price column is
  ``--price-column`` if given, else ``Adj Close``, then ``Close``, then
  ``Price``/``Value``, then the only numeric column; the ticker is ``--ticker``
  or the file name (upper-cased stem);
- one wide file: a date column (named ``Date`` or unnamed, as pandas writes its
  index) plus one column per ticker.

Dates: ISO (``2026-11-30``), ``YYYYMMDD``, ``D.M.YYYY`` and ``M/D/YYYY`` or
``D/M/YYYY`` — detected when the file's dates allow only one reading, else the
caller passes ``date_format`` (a ``strptime`` format such as ``%d/%m/%Y``).
Missing markers (empty, ``.``, ``null``, ``NaN``, ``N/A``, ``-``), a BOM and a
short or empty last row (common in Yahoo downloads) are handled: a row
without any quote is dropped, never turned into a phantom trading day, and
the count is logged.  A repeated date keeps its last row (counted and
logged).  Every rejection names the file, the line and what was expected.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from pytaaa.data.hdf5 import StoreError, short_message

__all__ = ["read_csv_quotes", "DATE_FORMATS"]

log = logging.getLogger(__name__)

_NA_TOKENS = frozenset({"", "null", "nan", "na", "n/a", "none", "-", ".", "#n/a"})
_DATE_NAMES = ("date", "observation_date", "time", "timestamp", "datetime")
_ADJ_NAMES = ("adj close", "adj_close", "adjclose", "adjusted close", "adjusted_close",
              "adj. close")
_PRICE_NAMES = (("close", "close/last"), ("price", "value"))
_OHLC = {"open", "high", "low", "close", "volume", "vol.", "change %", "price"}
_FILE_TICKER_RE = re.compile(r"^[A-Za-z0-9^][A-Za-z0-9.^=_\-]*$")
_THOUSANDS_RE = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
#: candidate date layouts: name -> (regex, strptime format)
DATE_FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    "YYYY-MM-DD": (re.compile(r"^\d{4}-\d{1,2}-\d{1,2}([ T].*)?$"), "%Y-%m-%d"),
    "YYYYMMDD": (re.compile(r"^\d{8}$"), "%Y%m%d"),
    "D.M.YYYY": (re.compile(r"^\d{1,2}\.\d{1,2}\.\d{4}$"), "%d.%m.%Y"),
    "M/D/YYYY": (re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$"), "%m/%d/%Y"),
    "D/M/YYYY": (re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$"), "%d/%m/%Y"),
}


def _read_table(path: Path) -> pd.DataFrame:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise StoreError(f"{path}: CSV file not found") from None
    except UnicodeDecodeError:
        raise StoreError(f"{path}: cannot read as CSV (not UTF-8 text)") from None
    except OSError as exc:
        raise StoreError(f"{path}: cannot read as CSV ({exc.strerror})") from None
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                          skipinitialspace=True)
    except (ValueError, pd.errors.ParserError) as exc:
        raise StoreError(f"{path}: cannot read as CSV ({short_message(exc)})") from None
    return raw.fillna("")


def _parse_dates(path: Path, texts: list[str], lines: list[int],
                 date_format: str | None) -> pd.DatetimeIndex:
    """Dates of the file's rows (``lines`` are their line numbers), the format detected
    or given; StoreError names the line."""
    if date_format is not None:
        name, fmt = "--date-format", date_format
    else:
        candidates = [(n, f) for n, (rx, f) in DATE_FORMATS.items()
                      if texts and all(rx.match(t) for t in texts)]
        if {c[0] for c in candidates} == {"M/D/YYYY", "D/M/YYYY"}:
            first = max(int(t.split("/")[0]) for t in texts)
            second = max(int(t.split("/")[1]) for t in texts)
            if first > 12:
                candidates = [c for c in candidates if c[0] == "D/M/YYYY"]
            elif second > 12:
                candidates = [c for c in candidates if c[0] == "M/D/YYYY"]
            else:
                raise StoreError(
                    f"{path}: dates like {texts[0]!r} read as month/day and as day/month; "
                    "expected --date-format '%m/%d/%Y' or '%d/%m/%Y'")
        if not candidates:
            ref = next((rx for rx, _f in DATE_FORMATS.values() if rx.match(texts[0])), None)
            i = next((k for k, t in enumerate(texts) if ref is None or not ref.match(t)), 0)
            raise StoreError(f"{path}, line {lines[i]}: {texts[i]!r} is not a date; expected "
                             "YYYY-MM-DD, YYYYMMDD, D.M.YYYY or M/D/YYYY, one layout per file "
                             "(or give --date-format)")
        name, fmt = candidates[0]
    index = pd.Index(texts, dtype=object)
    if name == "YYYY-MM-DD":
        parsed = pd.to_datetime(index, format="ISO8601", errors="coerce")
        if parsed.tz is not None:
            parsed = parsed.tz_localize(None)
    else:
        parsed = pd.to_datetime(index, format=fmt, errors="coerce")
    bad = np.flatnonzero(np.asarray(parsed.isna()))
    if bad.size:
        i = int(bad[0])
        shown = "YYYY-MM-DD" if name == "YYYY-MM-DD" else fmt
        raise StoreError(f"{path}, line {lines[i]}: {texts[i]!r} is not a date in the "
                         f"format {shown}")
    return parsed.normalize()


def _numbers(path: Path, cells: pd.Series, column: str) -> np.ndarray:
    """Floats of a column (NaN for missing markers); StoreError names line and column."""
    text = cells.astype(str).str.strip()
    missing = text.str.lower().isin(_NA_TOKENS)
    plain = text.where(~text.str.match(_THOUSANDS_RE), text.str.replace(",", "", regex=False))
    values = pd.to_numeric(plain.where(~missing, None), errors="coerce")
    bad = np.flatnonzero(np.asarray(values.isna() & ~missing))
    if bad.size:
        i = int(bad[0])
        raise StoreError(f"{path}, line {i + 2}, column {column!r}: {text.iloc[i]!r} is not a "
                         "number; expected a price (empty, '.' or 'null' for no quote)")
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def _ticker_from_name(path: Path) -> str:
    ticker = path.stem.strip().upper()
    if not _FILE_TICKER_RE.match(ticker):
        raise StoreError(f"{path}: cannot take a ticker from the file name; expected a file "
                         "named after its ticker, e.g. AAPL.csv, or --ticker")
    return ticker


def _is_numeric(cells: pd.Series) -> bool:
    text = cells.astype(str).str.strip()
    text = text[~text.str.lower().isin(_NA_TOKENS)]
    if text.empty:
        return False
    plain = text.where(~text.str.match(_THOUSANDS_RE), text.str.replace(",", "", regex=False))
    return bool(pd.to_numeric(plain, errors="coerce").notna().all())


def _columns(path: Path, raw: pd.DataFrame, date_col: str, price_column: str | None,
             ticker: str | None) -> dict[str, str]:
    """Ticker -> source column of the file (one for a per-ticker file, many for a wide one)."""
    names = {str(c).strip().lower(): c for c in raw.columns if c != date_col}
    expected = ("expected a date column plus 'Adj Close', 'Close', 'Price' or 'Value' (one "
                "ticker per file) or plus one column per ticker")
    if price_column is not None:
        col = names.get(price_column.strip().lower())
        if col is None:
            found = ", ".join(repr(str(c)) for c in raw.columns)
            raise StoreError(f"{path}: no column {price_column!r} (columns found: {found})")
        return {ticker or _ticker_from_name(path): col}
    for group in (_ADJ_NAMES,) + _PRICE_NAMES:
        col = next((names[n] for n in group if n in names), None)
        if col is not None:
            return {ticker or _ticker_from_name(path): col}
    if set(names) & _OHLC:
        raise StoreError(f"{path}: no price column next to the other columns; {expected}")
    if not names:
        raise StoreError(f"{path}: only a date column; {expected}")
    if ticker is not None:
        numeric = [c for c in names.values() if _is_numeric(raw[c])]
        if len(numeric) != 1:
            raise StoreError(f"{path}: --ticker needs one price column, found "
                             f"{len(numeric)} numeric columns; expected --price-column too")
        return {ticker: numeric[0]}
    columns: dict[str, str] = {}
    for col in raw.columns:
        if col == date_col:
            continue
        name = str(col).strip().upper()
        if not _FILE_TICKER_RE.match(name) or name.startswith("UNNAMED"):
            raise StoreError(f"{path}: column {str(col)!r} is not a ticker; {expected}")
        if name in columns:
            raise StoreError(f"{path}: ticker {name} has two columns; expected one each")
        columns[name] = col
    return columns


def read_csv_quotes(path: Path, *, date_format: str | None = None,
                    price_column: str | None = None, ticker: str | None = None) -> pd.DataFrame:
    """Prices of one CSV file as a dates x tickers float64 DataFrame (see the module
    docstring for the layouts).  Rows without any quote are dropped; a repeated date
    keeps its last row.  Raises :class:`StoreError` naming the file (and line,
    column and value) for a missing or unreadable file, no date column, no price
    column, an ambiguous or bad date, or a bad number.
    """
    path = Path(path)
    raw = _read_table(path)
    lower = {str(c).strip().lower(): c for c in raw.columns}
    date_col = next((lower[n] for n in _DATE_NAMES if n in lower), None)
    first = raw.columns[0] if len(raw.columns) else None
    if date_col is None and first is not None and (
            str(first).strip() == "" or str(first).startswith("Unnamed")):
        date_col = first  # a pandas-written wide file: the unnamed index column
    if date_col is None:
        found = ", ".join(repr(str(c)) for c in raw.columns) or "none"
        raise StoreError(f"{path}: no 'Date' column (columns found: {found}); expected a "
                         "date column (Date, DATE, observation_date, or pandas' unnamed index)")
    columns = _columns(path, raw, date_col, price_column, ticker)
    texts = [str(t).strip() for t in raw[date_col]]
    data = {t: _numbers(path, raw[c], str(c)) for t, c in columns.items()}
    values = np.column_stack(list(data.values())) if data else np.zeros((len(texts), 0))
    has_quote = np.isfinite(values).any(axis=1)
    empty_date = np.array([not t for t in texts], dtype=bool)
    if (empty_date & has_quote).any():
        i = int(np.flatnonzero(empty_date & has_quote)[0])
        raise StoreError(f"{path}, line {i + 2}: a price without a date; expected a date")
    dropped = int((~has_quote).sum())
    if dropped:
        log.info("%s: %d rows without any quote skipped (empty or short rows, missing markers)",
                 path, dropped)
    keep = has_quote & ~empty_date
    lines = [i + 2 for i in np.flatnonzero(keep)]
    texts = [t for t, k in zip(texts, keep) if k]
    if not texts:
        raise StoreError(f"{path}: no row with a date and a quote; expected at least one")
    dates = _parse_dates(path, texts, lines, date_format)
    frame = pd.DataFrame(values[keep], index=dates, columns=list(data))
    repeated = int(frame.index.duplicated(keep="last").sum())
    if repeated:
        log.warning("%s: %d repeated dates, keeping the last row of each", path, repeated)
    return frame[~frame.index.duplicated(keep="last")].sort_index()

