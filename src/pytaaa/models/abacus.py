"""The switching account's ``pyTAAAweb_backtestPortfolioValue.params`` (PyTAAA's "abacus" format).

Six space-separated columns per day::

    YYYY-MM-DD <col 2: B&H> <col 3: switching portfolio> <col 4: new highs> <col 5: new lows> <model>

Column 3 is the switching portfolio (2 decimals) and column 6 the model in
force that day (``CASH`` when in cash).  Columns 2, 4 and 5 are kept exactly
as the account's file has them; a date the file does not have (before the
account's own history, or a day only the models have) gets the padding
``10000.0 … -1000 -100000.0`` for them.  A day of the file after the last day
of the models keeps the last switching value and model.

:func:`update_abacus_file` reads the existing file first: when a non-empty
line cannot be parsed (fewer than 5 columns, a bad date or number) it raises
:class:`AccountFileError` naming the file and line and **writes nothing** (the
original wrote an empty file).  Every write is atomic.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from pytaaa._io import atomic_write_text
from pytaaa.models.switching import Selection

__all__ = ["ABACUS_FILE", "PAD_COLUMNS", "AccountFileError", "read_account_rows",
           "format_abacus", "update_abacus_file"]

ABACUS_FILE = "pyTAAAweb_backtestPortfolioValue.params"
#: Columns 2, 4, 5 of a padding row.
PAD_COLUMNS = ("10000.0", "-1000", "-100000.0")


class AccountFileError(ValueError):
    """The account's backtest file cannot be parsed; it is left untouched."""


def read_account_rows(path: Path) -> dict[str, tuple[str, str, str]]:
    """Date -> (column 2, column 4, column 5) as written, from an existing file.

    A missing file gives an empty mapping.  Raises :class:`AccountFileError`
    for the first line that cannot be parsed (the message names the file, the
    line number and the expectation).
    """
    path = Path(path)
    if not path.exists():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AccountFileError(f"{path}: cannot be read ({exc}); it is left as it is") from None
    rows: dict[str, tuple[str, str, str]] = {}
    for no, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        ok = len(parts) in (5, 6)
        if ok:
            try:
                dt.date.fromisoformat(parts[0])
                for tok in parts[1:5]:
                    float(tok)
            except ValueError:
                ok = False
        if not ok:
            raise AccountFileError(
                f"{path}: line {no} cannot be parsed ({line.strip()[:60]!r}); expected "
                "'YYYY-MM-DD <B&H> <value> <new highs> <new lows> [model]'; the file is "
                "left as it is")
        rows[parts[0]] = (parts[1], parts[3], parts[4])
    return rows


def _label(name: str, cash: str) -> str:
    return "CASH" if name == cash else name


def format_abacus(selection: Selection, account: dict[str, tuple[str, str, str]]) -> str:
    """The file's text: every date of the models and of ``account``, in order."""
    series = selection.series
    model_dates = [str(d) for d in series.dates.astype("datetime64[D]")]
    index = {d: i for i, d in enumerate(model_dates)}
    cash = series.names[selection.cash]
    lines = []
    for d in sorted(set(model_dates) | set(account)):
        # the last model day on or before d (the switching value carries forward)
        i = index.get(d)
        if i is None:
            i = int(np.searchsorted(series.dates, np.datetime64(d, "D"), side="right")) - 1
        if i < 0:
            value, model = 10_000.0, "CASH"
        else:
            value = float(selection.values[i])
            model = _label(series.names[int(selection.held[i])], cash)
        c2, c4, c5 = account.get(d, PAD_COLUMNS)
        lines.append(f"{d} {c2} {value:.2f} {c4} {c5} {model}")
    return "\n".join(lines) + "\n"


def update_abacus_file(path: Path, selection: Selection) -> Path:
    """Rewrite ``path`` in the abacus format from ``selection``, keeping its
    columns 2, 4 and 5.  Raises :class:`AccountFileError` (nothing written) when
    the existing file cannot be parsed, ``OSError`` when it cannot be written."""
    account = read_account_rows(path)
    atomic_write_text(path, format_abacus(selection, account))
    return path
