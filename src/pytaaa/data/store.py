"""The quote store: PyTAAA's HDF5 layout, its side files, CSV import and download.

The HDF5 layout itself lives in :mod:`pytaaa.data.hdf5` and is re-exported
here (:func:`read_store`, :func:`write_store`, :func:`store_location`,
:class:`StoreError`).  This module adds the optional side files next to the
store (symbols list, company names, index changes), merging new quotes into a
store, CSV import and the optional ``yfinance`` download.

Every problem with a user's file raises :class:`StoreError` with one message
that names the file (and key, line or column) and what was expected.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from pytaaa._io import atomic_write_text
from pytaaa.data.csv_import import read_csv_quotes
from pytaaa.data.hdf5 import (
    HOW_TO_CREATE,
    StoreError,
    frame_to_quotes,
    quotes_to_frame,
    read_store,
    short_message,
    store_location,
    write_store,
)
from pytaaa.model import Quotes

__all__ = [
    "HOW_TO_CREATE",
    "StoreError",
    "store_location",
    "read_store",
    "write_store",
    "quotes_to_frame",
    "read_symbols_file",
    "read_company_names",
    "read_index_changes",
    "read_csv_quotes",
    "import_csv",
    "merge_into_store",
    "adj_close_from_download",
    "update_from_yfinance",
]

log = logging.getLogger(__name__)

_CHANGE_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})\s+(add|remove)\s+(\S+)$", re.IGNORECASE)


# ---- side files --------------------------------------------------------------


def _read_lines(path: Path) -> list[str]:
    """Lines of a text file (any line ending, BOM dropped); StoreError if unreadable."""
    try:
        return path.read_bytes().decode("utf-8-sig", errors="replace").splitlines()
    except FileNotFoundError:
        raise StoreError(f"{path}: file not found") from None
    except OSError as exc:
        raise StoreError(f"{path}: cannot read ({exc.strerror})") from None


def read_symbols_file(symbols_file: Path) -> list[str]:
    """Tickers of a symbols file: one per line, ``#`` starts a comment.

    Blank lines are skipped, repeated tickers kept once (first place).
    Raises :class:`StoreError` when the file is missing or unreadable.
    """
    out: list[str] = []
    for line in _read_lines(Path(symbols_file)):
        for ticker in line.split("#", 1)[0].split():
            if ticker not in out:
                out.append(ticker)
    return out


def read_company_names(symbols_file: Path) -> dict[str, str]:
    """Company names from ``<List>_companyNames.txt`` or ``companyNames.txt``.

    Reads the first of the two that exists in the symbols folder; lines are
    ``TICKER;Company Name`` (``#`` comments, any line ending).  A malformed line
    is skipped with a warning naming file and line.  Returns ``{}`` when
    neither file exists.
    """
    symbols_file = Path(symbols_file)
    _, list_name = store_location(symbols_file)
    for path in (
        symbols_file.parent / f"{list_name}_companyNames.txt",
        symbols_file.parent / "companyNames.txt",
    ):
        if path.is_file():
            break
    else:
        return {}
    names: dict[str, str] = {}
    for n, raw in enumerate(_read_lines(path), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        ticker, sep, name = line.partition(";")
        if not sep or not ticker.strip() or not name.strip():
            log.warning("%s, line %d: %r skipped; expected 'TICKER;Company Name'", path, n, line)
            continue
        names[ticker.strip()] = name.strip()
    return names


def read_index_changes(symbols_file: Path) -> list[tuple[dt.date, str, str]]:
    """Index membership changes from ``<List>_symbolsChanges.txt``.

    Lines are ``YYYY-M-D Add|Remove TICKER`` (``#`` comments, any line
    ending); a malformed line is skipped with a warning naming file and line.
    Returns ``(date, "Add"|"Remove", ticker)`` newest first (a stable sort, so
    changes of one day keep the file's order); ``[]`` when the file is absent.
    """
    symbols_file = Path(symbols_file)
    _, list_name = store_location(symbols_file)
    path = symbols_file.parent / f"{list_name}_symbolsChanges.txt"
    if not path.is_file():
        return []
    out: list[tuple[dt.date, str, str]] = []
    for n, raw in enumerate(_read_lines(path), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _CHANGE_RE.match(line)
        try:
            day = dt.date(int(m[1]), int(m[2]), int(m[3])) if m else None
        except ValueError:
            day = None
        if m is None or day is None:
            log.warning("%s, line %d: %r skipped; expected 'YYYY-M-D Add|Remove TICKER'", path, n, line)
            continue
        out.append((day, m[4].capitalize(), m[5]))
    out.sort(key=lambda change: change[0], reverse=True)
    return out


def _write_symbols_file(symbols_file: Path, tickers: Sequence[str], keep_existing: bool) -> None:
    """Write ``tickers`` (without CASH); with ``keep_existing`` append only new ones."""
    tickers = [t for t in tickers if t != "CASH"]
    if keep_existing and symbols_file.is_file():
        text = symbols_file.read_bytes().decode("utf-8-sig", errors="replace")
        have = set(read_symbols_file(symbols_file))
        extra = [t for t in tickers if t not in have]
        if not extra:
            return
        if text and not text.endswith(("\n", "\r")):
            text += "\n"
        text += "".join(f"{t}\n" for t in extra)
    else:
        text = "".join(f"{t}\n" for t in tickers)
    atomic_write_text(symbols_file, text)


# ---- merging, CSV import, download --------------------------------------------


def merge_into_store(
    symbols_file: Path, frame: pd.DataFrame, *, merge: bool = True, source: str = "new quotes"
) -> Quotes:
    """Merge ``frame`` (index dates, columns tickers, adjusted closes) into a store.

    With ``merge`` and an existing store, new values win where ``frame`` has
    a quote; the store's other values, rows and columns stay; new tickers are
    appended (``CASH`` stays last and is 1.0 on new dates).  Without ``merge``
    the store is replaced.  Writes the store (string index) and the symbols
    file (with ``merge`` only new tickers are appended to an existing one).
    Returns the store's new :class:`Quotes`.  Raises :class:`StoreError` for a
    bad ``frame`` (named by ``source``) or an unreadable existing store, and
    ``OSError`` when the folder cannot be written.
    """
    symbols_file = Path(symbols_file)
    new = quotes_to_frame(frame_to_quotes(frame, source), string_index=False)
    path, key = store_location(symbols_file)
    if merge and path.exists():
        old = quotes_to_frame(read_store(symbols_file), string_index=False)
        combined = new.combine_first(old)
        order = [c for c in old.columns if c != "CASH"]
        order += [c for c in new.columns if c not in old.columns and c != "CASH"]
        order += ["CASH"] if "CASH" in combined.columns else []
        combined = combined[order]
        if "CASH" in combined.columns:
            combined["CASH"] = combined["CASH"].fillna(1.0)
        new = combined
    quotes = frame_to_quotes(new, source)
    write_store(path, key, quotes)
    _write_symbols_file(symbols_file, quotes.symbols, keep_existing=merge)
    log.info(
        "%s: store %s now holds %d symbols x %d days (%s .. %s)",
        source, path, len(quotes.symbols), len(quotes.dates), quotes.dates[0], quotes.dates[-1],
    )
    return quotes


def import_csv(sources: list[Path], symbols_file: Path, *, merge: bool = True,
               date_format: str | None = None, price_column: str | None = None,
               ticker: str | None = None) -> Quotes:
    """Import prices from CSV files into the store of ``symbols_file``.

    Reads every file with :func:`~pytaaa.data.csv_import.read_csv_quotes`
    (``date_format``, ``price_column`` and ``ticker`` are passed on; ``ticker``
    needs exactly one file); a later file wins where two give the same ticker
    and date.  Then :func:`merge_into_store` writes the store and the symbols
    file.  Returns the store's new :class:`Quotes`.  Raises :class:`StoreError`
    for no files or any bad file (nothing is written then).
    """
    if not sources:
        raise StoreError("no CSV files given; expected one file per ticker or one wide file")
    if ticker is not None and len(sources) != 1:
        raise StoreError(f"--ticker {ticker} names one file's ticker; got {len(sources)} files")
    frames = [read_csv_quotes(Path(src), date_format=date_format, price_column=price_column,
                              ticker=ticker) for src in sources]
    combined = frames[0]
    for frame in frames[1:]:
        order = list(combined.columns) + [c for c in frame.columns if c not in combined.columns]
        combined = frame.combine_first(combined)[order]
    names = ", ".join(str(s) for s in sources[:3]) + (" ..." if len(sources) > 3 else "")
    return merge_into_store(symbols_file, combined, merge=merge, source=f"CSV import of {names}")


def adj_close_from_download(data: pd.DataFrame, tickers: Sequence[str]) -> pd.DataFrame:
    """The ``Adj Close`` table of a ``yfinance.download`` result, dates x tickers.

    Accepts column MultiIndexes (field, ticker) or (ticker, field) and a flat
    single-ticker frame.  Rows without any quote are dropped.  Raises
    :class:`StoreError` when there is no ``Adj Close`` data.
    """
    if data is None or data.empty:
        raise StoreError("the download returned no quotes (no network, or unknown tickers?)")
    if isinstance(data.columns, pd.MultiIndex):
        for level in range(data.columns.nlevels):
            if "Adj Close" in data.columns.get_level_values(level):
                table = data.xs("Adj Close", axis=1, level=level)
                break
        else:
            raise StoreError("the download has no 'Adj Close' column; expected auto_adjust=False data")
    elif "Adj Close" in data.columns:
        table = data[["Adj Close"]].set_axis([tickers[0]], axis=1)
    else:
        raise StoreError("the download has no 'Adj Close' column; expected auto_adjust=False data")
    table = table.dropna(how="all")
    if table.empty:
        raise StoreError("the download returned no quotes (no network, or unknown tickers?)")
    table.columns = [str(c) for c in table.columns]
    return table


def update_from_yfinance(symbols_file: Path, *, start: dt.date | None = None) -> Quotes:
    """Download adjusted closes with ``yfinance`` and merge them into the store.

    Tickers come from the symbols file (or the store's columns when it is
    missing); ``start`` defaults to ten days before the store's last date
    (1 Jan 1991 without a store).  Returns the store's new :class:`Quotes`.
    Raises :class:`StoreError` when yfinance is not installed ("install
    pytaaa[download]"), there are no tickers, or the download fails.
    """
    try:
        import yfinance  # optional extra, imported only when asked for
    except ImportError:
        raise StoreError(
            "quote download needs the optional package yfinance: "
            "install pytaaa[download] (pip install 'pytaaa[download]')"
        ) from None
    symbols_file = Path(symbols_file)
    path, _ = store_location(symbols_file)
    current = read_store(symbols_file) if path.exists() else None
    if symbols_file.is_file():
        tickers = read_symbols_file(symbols_file)
    else:
        tickers = [s for s in current.symbols if s != "CASH"] if current else []
    tickers = [t for t in tickers if t != "CASH"]
    if not tickers:
        raise StoreError(f"{symbols_file}: no tickers to download; expected one ticker per line")
    if start is None:
        start = current.last_date - dt.timedelta(days=10) if current else dt.date(1991, 1, 1)
    log.info("downloading %d tickers from %s", len(tickers), start)
    try:
        data = yfinance.download(
            tickers, start=start.isoformat(), auto_adjust=False, actions=False,
            progress=False, group_by="column",
        )
    except Exception as exc:  # network and service failures of a third-party package
        raise StoreError(f"quote download failed: {short_message(exc)}") from None
    frame = adj_close_from_download(data, tickers)
    return merge_into_store(symbols_file, frame, merge=True, source="downloaded quotes")
