"""Reading the models' value series from their files (``spec/models.md`` section 1).

- ``backtested`` (default): ``pyTAAAweb_backtestPortfolioValue.params``, column 3
  (the model's backtested value); 5- and 6-column lines are both read.
- ``actual``: ``PyTAAA_status.params``, the raw value of the 6-token
  ``cumu_value: <date> <time> <value> <signal> <timed value>`` lines (the last
  line of each day wins).

A model whose file is missing or holds no value is a warning naming the model
and the path, and it is left out; :func:`read_model_series` raises
:class:`NoModelsError` when no model is left (cash alone chooses nothing).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import numpy as np

from pytaaa.models.settings import SwitchingSettings
from pytaaa.models.switching import ModelSeries, align_series

__all__ = ["NoModelsError", "read_value_file", "read_model_series"]

log = logging.getLogger(__name__)


class NoModelsError(ValueError):
    """No model of a switching config has a readable series."""


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def read_value_file(path: Path, data_format: str) -> tuple[np.ndarray, np.ndarray]:
    """Dates (datetime64[D]) and values of one model file, in date order.

    Lines that cannot be read (a bad date or number, a value that is not
    positive) are skipped with one warning naming the file and the first such
    line.  Raises ``OSError`` when the file cannot be read.
    """
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    by_day: dict[dt.date, float] = {}
    bad: list[int] = []
    for no, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if data_format == "actual":
            if parts[0] != "cumu_value:" or len(parts) != 6:
                continue
            day, token = _date(parts[1]), parts[3]
        else:
            if len(parts) < 3:
                bad.append(no)
                continue
            day, token = _date(parts[0]), parts[2]
        try:
            value = float(token)
        except ValueError:
            value = float("nan")
        if day is None or not np.isfinite(value) or value <= 0:
            bad.append(no)
            continue
        by_day[day] = value
    if bad:
        log.warning("%s: %d line(s) cannot be read and are skipped (first: line %d)",
                    path, len(bad), bad[0])
    days = sorted(by_day)
    return (np.array(days, dtype="datetime64[D]"),
            np.array([by_day[d] for d in days], dtype=np.float64))


def read_model_series(settings: SwitchingSettings, *,
                      until: dt.date | None = None) -> tuple[ModelSeries, list[str]]:
    """The series of every model of ``settings`` on one date axis.

    ``until`` drops rows after that date.  Returns the series (with cash) and
    the warnings (a model without a file or without values is left out).
    Raises :class:`NoModelsError` when no model other than cash is left.
    """
    named: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    warnings: list[str] = []
    cash = "cash"
    for entry in settings.models:
        if entry.kind == "cash":
            cash = entry.name
            continue
        path = entry.data_file
        if path is None or not path.is_file():
            where = path if path is not None else entry.config_path
            msg = f"model {entry.name}: file not found: {where}; left out"
            log.warning(msg)
            warnings.append(msg)
            continue
        try:
            dates, values = read_value_file(path, settings.data_format)
        except OSError as exc:
            msg = f"model {entry.name}: cannot read {path}: {exc.strerror}; left out"
            log.warning(msg)
            warnings.append(msg)
            continue
        if until is not None:
            keep = dates <= np.datetime64(until, "D")
            dates, values = dates[keep], values[keep]
        if not len(dates):
            msg = f"model {entry.name}: no values in {path}; left out"
            log.warning(msg)
            warnings.append(msg)
            continue
        named[entry.name] = (dates, values)
    if not named:
        raise NoModelsError(f"{settings.path}: no model has a readable series "
                            f"({'; '.join(warnings) or 'only cash is configured'})")
    return align_series(named, cash=cash), warnings
