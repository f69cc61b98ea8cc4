"""PyTAAA's HDF5 quote store: location, reading, writing.

A store is one pandas "table" DataFrame written with PyTables: the index holds
the trading dates (strings ``YYYY-MM-DD`` or datetimes), the columns the
tickers, the values float64 adjusted closes with NaN where there is no quote,
plus an optional ``CASH`` column.  The file and key are named after the symbols
file (:func:`store_location`).  Import the names from :mod:`pytaaa.data.store`, the
public face of the store; this module holds the HDF5 layout only.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import tables

from pytaaa._blocks import blocks
from pytaaa._io import atomic_path
from pytaaa.model import Quotes

__all__ = [
    "StoreError",
    "store_location",
    "read_store",
    "write_store",
    "quotes_to_frame",
    "frame_to_quotes",
    "parse_iso_dates",
    "short_message",
    "check_tickers",
    "TICKER_RE",
    "HOW_TO_CREATE",
]

log = logging.getLogger(__name__)

HOW_TO_CREATE = (
    "create one with `pytaaa data synth` (synthetic demo data) or "
    "`pytaaa data import-csv --json CONFIG FILES...` (your own quotes)"
)

TICKER_RE = re.compile(r"^[A-Za-z0-9^][A-Za-z0-9.^=_\-/&]{0,23}$")

_LIST_NAMES = {
    "naz100_symbols": "Naz100_Symbols",
    "sp500_symbols": "SP500_Symbols",
    "symbols": "TAA-Symbols",
}


class StoreError(Exception):
    """A quote store, symbols file or CSV that cannot be used.

    The message names the file (and key, line or column), what was expected
    and, for a missing store, how to create one.
    """


def short_message(exc: BaseException) -> str:
    """The last non-empty line of ``exc``'s message, at most 200 characters.

    HDF5 errors carry a long back trace; its last line says what failed.
    """
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    text = lines[-1] if lines else type(exc).__name__
    return text[:200]


def store_location(symbols_file: Path) -> tuple[Path, str]:
    """Return ``(hdf5 file, key)`` of the store that belongs to ``symbols_file``.

    The list name comes from the file's stem: ``naz100_symbols`` ->
    ``Naz100_Symbols``, ``sp500_symbols`` -> ``SP500_Symbols`` (both
    case-insensitive), ``symbols`` -> ``TAA-Symbols``, any other stem unchanged.
    The store is ``<folder>/<listname>_.hdf5`` and its key ``<listname>``.
    Reads nothing; raises nothing.
    """
    symbols_file = Path(symbols_file)
    stem = symbols_file.stem
    name = _LIST_NAMES.get(stem.lower(), stem)
    return symbols_file.parent / f"{name}_.hdf5", name


def parse_iso_dates(texts: Sequence[str]) -> pd.DatetimeIndex:
    """Parse ISO 8601 date texts into a tz-naive DatetimeIndex.

    A text that is no date, including a bare number, becomes NaT (the caller
    reports it).  Raises nothing.
    """
    parsed = pd.to_datetime(
        pd.Index([t if not t.isdigit() else "" for t in texts], dtype=object),
        format="ISO8601",
        errors="coerce",
    )
    return parsed.tz_localize(None) if parsed.tz is not None else parsed


def _parse_dates(index: pd.Index, where: str) -> np.ndarray:
    """Dates of a store index as ``datetime64[D]``; StoreError on a bad one."""
    if isinstance(index, pd.DatetimeIndex):
        parsed = index.tz_localize(None) if index.tz is not None else index
        texts = [str(x) for x in index]
    else:
        texts = [
            x.decode("utf-8", "replace").strip() if isinstance(x, bytes) else str(x).strip()
            for x in index
        ]
        parsed = parse_iso_dates(texts)
    bad = np.flatnonzero(np.asarray(parsed.isna()))
    if bad.size:
        raise StoreError(
            f"{where}: unparseable date {texts[bad[0]]!r} (row {bad[0] + 1}); "
            "expected dates 'YYYY-MM-DD' or datetimes"
        )
    return np.asarray(parsed.values).astype("datetime64[D]")


def _numeric_values(frame: pd.DataFrame, where: str) -> np.ndarray:
    """``(T, N)`` float64 of a frame; StoreError naming a column with a non-number."""
    if all(
        pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        for dtype in frame.dtypes
    ):
        if all(dtype == np.float64 for dtype in frame.dtypes):  # NaN is already NaN
            values = frame.to_numpy(dtype=np.float64)  # often a view of the frame's block
        else:
            values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        cols = []
        for j in range(frame.shape[1]):
            col = frame.iloc[:, j]
            if pd.api.types.is_bool_dtype(col.dtype):
                raise StoreError(
                    f"{where}: column {str(frame.columns[j])!r} holds booleans; "
                    "expected float adjusted closes"
                )
            conv = pd.to_numeric(col, errors="coerce")
            bad = np.flatnonzero(np.asarray(conv.isna() & col.notna()))
            if bad.size:
                raise StoreError(
                    f"{where}: column {str(frame.columns[j])!r} holds the non-numeric value "
                    f"{col.iloc[bad[0]]!r} (row {bad[0] + 1}, date {frame.index[bad[0]]}); "
                    "expected float adjusted closes (NaN for no quote)"
                )
            cols.append(conv.to_numpy(dtype=np.float64, na_value=np.nan))
        values = np.column_stack(cols)
    return values


def check_tickers(columns: Sequence[str], where: str) -> None:
    """Raise :class:`StoreError` naming the first column that is not a usable ticker.

    A ticker is 1-24 characters: letters, digits and ``. - ^ = _ / &``, starting
    with a letter, digit or ``^`` (no spaces, line breaks, separators or quotes:
    they would shift the ranks file and break file names).
    """
    for n, col in enumerate(columns, start=1):
        if not TICKER_RE.match(col):
            shown = repr(col) if col else "'' (empty)"
            raise StoreError(
                f"{where}: column {n} {shown} is not a usable ticker; expected 1-24 letters, "
                "digits or . - ^ = _ / & (no spaces, line breaks or separators)"
            )


def frame_to_quotes(frame: object, where: str, *, duplicates: str = "last",
                    raw: bool = False) -> Quotes:
    """Validate a dates x tickers frame and turn it into :class:`Quotes`.

    Tickers are checked (:func:`check_tickers`).  Dates are sorted ascending;
    a repeated date keeps its last row with a warning (``duplicates="last"``)
    or is an error naming the dates (``"error"``, a store).  ``CASH`` moves
    last; non-finite or non-positive prices become NaN (with a warning).  With
    ``raw`` the rows keep their order, repeated dates and bad values (for
    ``pytaaa data check``).  Raises :class:`StoreError`, prefixed with
    ``where``, for something that is not a DataFrame, an empty frame, a bad,
    repeated or only-CASH column, an unparseable date or a non-numeric value.
    """
    if not isinstance(frame, pd.DataFrame):
        raise StoreError(
            f"{where}: holds a {type(frame).__name__}; expected a DataFrame of adjusted "
            "closes (index dates, one column per ticker)"
        )
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise StoreError(
            f"{where}: empty ({frame.shape[0]} dates, {frame.shape[1]} columns); expected "
            f"at least one date and one ticker; {HOW_TO_CREATE}"
        )
    columns = [str(c).strip() for c in frame.columns]
    check_tickers(columns, where)
    dups = sorted({c for c in columns if columns.count(c) > 1})
    if dups:
        raise StoreError(f"{where}: repeated ticker columns {', '.join(dups)}; expected unique tickers")
    if all(c == "CASH" for c in columns):
        raise StoreError(f"{where}: only a CASH column; expected at least one ticker")
    dates = _parse_dates(frame.index, where)
    values = _numeric_values(frame, where)
    perm = [j for j, c in enumerate(columns) if c != "CASH"]
    perm += [j for j, c in enumerate(columns) if c == "CASH"]
    if raw:
        return Quotes(dates=dates, symbols=tuple(columns[j] for j in perm),
                      close=_symbol_rows(values, perm))
    if dates.size > 1 and bool((dates[1:] < dates[:-1]).any()):
        order = np.argsort(dates, kind="stable")
        dates, values = dates[order], values[order]
    keep = np.ones(len(dates), dtype=bool)
    keep[:-1] = dates[:-1] != dates[1:]
    if not keep.all():
        repeated = np.unique(dates[1:][~keep[:-1]])
        if duplicates == "error":
            shown = ", ".join(str(d) for d in repeated[:5]) + (" ..." if repeated.size > 5 else "")
            raise StoreError(
                f"{where}: {repeated.size} repeated dates ({shown}); expected one row per "
                "date (`pytaaa data check --fix` keeps the last row of each)"
            )
        log.warning("%s: %d repeated dates, keeping the last row of each", where, (~keep).sum())
        dates, values = dates[keep], values[keep]
    symbols = tuple(columns[j] for j in perm)
    close = _symbol_rows(values, perm)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(close) & ~np.isnan(close) | (close <= 0)
    if bad.any():
        log.warning(
            "%s: %d non-finite or non-positive prices treated as missing", where, int(bad.sum())
        )
        if np.shares_memory(close, values):  # never write into the caller's frame
            close = close.copy()
        close[bad] = np.nan
    return Quotes(dates=dates, symbols=symbols, close=close)


def _symbol_rows(values: np.ndarray, perm: list[int]) -> np.ndarray:
    """``values[:, perm].T`` as a C-contiguous ``(N, T)`` float64 array.

    No copy when the frame already holds its columns as contiguous rows in
    ``perm`` order (a store's frame usually does); else a copy made a block of
    symbols at a time (cache-sized tiles, no full-size temporary).
    """
    t, n = values.shape
    if perm == list(range(n)) and values.T.flags.c_contiguous and values.dtype == np.float64:
        return values.T
    out = np.empty((n, t))
    cols = np.asarray(perm, dtype=np.intp)
    for b in blocks(n, t):
        out[b] = values[:, cols[b]].T
    return out


def _load_frame(path: Path, key: str, where: str) -> object:
    """The object stored under ``key`` in the HDF5 file ``path``."""
    if not path.is_file():
        raise StoreError(f"{where}: file not found; {HOW_TO_CREATE}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", tables.NaturalNameWarning)
            with pd.HDFStore(path, mode="r") as h5:
                keys = [k.lstrip("/") for k in h5.keys()]
                if key not in keys:
                    found = ", ".join(repr(k) for k in keys) or "none"
                    raise StoreError(
                        f"{where}: the file has no key '{key}' (keys found: {found}); expected "
                        f"a pandas table named after the symbols file; {HOW_TO_CREATE}"
                    )
                return h5.get(key)
    except StoreError:
        raise
    except Exception as exc:  # any failure to read a user's file becomes one clear message
        raise StoreError(
            f"{where}: not a readable HDF5 quote store ({short_message(exc)}); expected a pandas "
            f"table written with PyTables; {HOW_TO_CREATE}"
        ) from None


def read_store(symbols_file: Path, *, raw: bool = False) -> Quotes:
    """Read the quote store that belongs to ``symbols_file`` (:func:`store_location`).

    Reads the HDF5 file; accepts a string or datetime index and an optional
    ``CASH`` column.  Returns :class:`Quotes` with dates ascending, the store's column order with ``CASH`` moved
    last, and ``close`` ``(N, T)`` float64 (NaN = no quote); ``raw`` keeps the
    rows as stored (see :func:`frame_to_quotes`).  Raises :class:`StoreError`
    naming the file and key for a missing file or key, an unreadable or empty
    store, a bad ticker column, repeated dates (naming them), a non-numeric
    column or an unparseable date.
    """
    path, key = store_location(Path(symbols_file))
    where = f"quote store {path} (key '{key}')"
    return frame_to_quotes(_load_frame(path, key, where), where, duplicates="error", raw=raw)


def quotes_to_frame(quotes: Quotes, *, string_index: bool = True) -> pd.DataFrame:
    """The store layout of ``quotes``: dates x tickers float64.

    The index holds ``YYYY-MM-DD`` strings (``string_index``) or datetimes.
    Reads nothing; raises nothing.
    """
    days = np.asarray(quotes.dates).astype("datetime64[D]")
    if string_index:
        index = pd.Index(np.datetime_as_string(days, unit="D").tolist(), dtype=object)
    else:
        index = pd.DatetimeIndex(days.astype("datetime64[ns]"))
    return pd.DataFrame(
        np.asarray(quotes.close, dtype=np.float64).T.copy(),
        index=index,
        columns=pd.Index(list(quotes.symbols), dtype=object),
    )


def write_store(path: Path, key: str, quotes: Quotes, *, string_index: bool = True) -> None:
    """Write ``quotes`` to the HDF5 file ``path`` under ``key`` in PyTAAA's layout.

    A pandas ``format="table"`` DataFrame (see :func:`quotes_to_frame`),
    written to a temporary file and renamed into place; the folder is created
    if needed.  Raises ``OSError`` when the folder cannot be written.
    """
    path = Path(path)
    frame = quotes_to_frame(quotes, string_index=string_index)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", tables.NaturalNameWarning)
        frame.to_hdf(tmp, key=key, mode="w", format="table")
