"""The inputs of the charts job, built from an analysis, carried by a hand-off.

:class:`ChartJobInputs` holds exactly what the per-symbol charts need and
nothing else: dates, symbols, company names, the rows of cleaned prices,
despiked prices, held and daily signals, the percentile channels (or none),
the chart parameters, the output folder, the freshness limit, ``force`` and
the time printed on the charts.  :func:`build_chart_inputs` makes one from a
daily run's :class:`~pytaaa.model.Analysis`; :func:`handoff_payload` and
:func:`read_chart_handoff` carry it through a hand-off file.

CASH gets no charts: its price is the constant 1.0, so both charts would be a
flat line; the web page links no CASH charts either.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from pytaaa.charts.symbol import ChartParams, safe_symbol
from pytaaa.jobs.handoff import HandoffError, HandoffReader
from pytaaa.model import Analysis

__all__ = [
    "ChartJobInputs",
    "ChartJobSpec",
    "build_chart_inputs",
    "handoff_payload",
    "read_chart_handoff",
    "ARRAY_NAMES",
]

#: The arrays of a charts hand-off: name -> dtype ("dates" is (T,), the others (N, T)).
ARRAY_NAMES = {
    "dates": np.dtype("<M8[D]"),
    "close": np.dtype("<f8"),
    "despiked": np.dtype("<f8"),
    "held": np.dtype("i1"),
    "daily": np.dtype("i1"),
    "low_channel": np.dtype("<f8"),
    "hi_channel": np.dtype("<f8"),
    "hidden": np.dtype("?"),
}
#: The percentile channels: both or neither.
CHANNEL_ARRAYS = ("low_channel", "hi_channel")
OPTIONAL_ARRAYS = (*CHANNEL_ARRAYS, "hidden")


@dataclass(frozen=True)
class ChartJobSpec:
    """Everything of a charts job except the big arrays (small; sent to each worker)."""

    symbols: tuple[str, ...]
    companies: tuple[str, ...]
    params: ChartParams
    output_dir: Path
    freshness_hours: float
    force: bool
    now: dt.datetime
    n_days: int
    has_channels: bool

    def params_dict(self) -> dict[str, Any]:
        p = self.params
        return {
            "method": p.method,
            "periods": [int(x) for x in p.periods],
            "numdaysinfit": int(p.numdaysinfit),
            "numdaysinfit2": int(p.numdaysinfit2),
            "offset": int(p.offset),
            "recent_start": p.recent_start.isoformat(),
        }


@dataclass(frozen=True)
class ChartJobInputs:
    """A charts job's inputs with its arrays in memory (rows = ``symbols``).

    ``hidden`` ``(N, T)`` bool (optional) marks the days without a price line
    (before a symbol's first quote, while it is stale): :meth:`line` and the
    workers blank ``close`` and ``despiked`` there, so ``close`` and
    ``despiked`` can be views of the analysis' arrays rather than copies.
    """

    dates: np.ndarray
    symbols: tuple[str, ...]
    companies: tuple[str, ...]
    close: np.ndarray
    despiked: np.ndarray
    held: np.ndarray
    daily: np.ndarray
    low_channel: np.ndarray | None
    hi_channel: np.ndarray | None
    params: ChartParams
    output_dir: Path
    freshness_hours: float = 20.0
    force: bool = False
    now: dt.datetime | None = None
    hidden: np.ndarray | None = None

    def __post_init__(self) -> None:
        n, t = len(self.symbols), len(self.dates)
        for name in ARRAY_NAMES:
            if name == "dates":
                continue
            a = getattr(self, name)
            if a is None and name in OPTIONAL_ARRAYS:
                continue
            if np.shape(a) != (n, t):
                raise ValueError(f"ChartJobInputs.{name}: shape {np.shape(a)}, expected ({n}, {t})")
        if (self.low_channel is None) != (self.hi_channel is None):
            raise ValueError("ChartJobInputs: give both percentile channels or neither")
        if len(self.companies) != n:
            raise ValueError(f"ChartJobInputs.companies: {len(self.companies)} names for {n} symbols")

    def line(self, name: str, i: int) -> np.ndarray:
        """Row ``i`` of ``close`` or ``despiked`` as drawn: NaN where ``hidden``."""
        return drawn_line(getattr(self, name)[i], None if self.hidden is None
                          else self.hidden[i])

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays in their hand-off dtypes (channels only when present)."""
        out = {}
        for name, dtype in ARRAY_NAMES.items():
            a = getattr(self, name)
            if a is not None:
                out[name] = np.ascontiguousarray(a, dtype=dtype)
        return out

    def spec(self, now: dt.datetime | None = None) -> ChartJobSpec:
        """The small part of the inputs; ``now`` defaults to ``self.now`` then the clock."""
        return ChartJobSpec(
            symbols=tuple(self.symbols),
            companies=tuple(self.companies),
            params=self.params,
            output_dir=Path(os.path.abspath(self.output_dir)),
            freshness_hours=float(self.freshness_hours),
            force=bool(self.force),
            now=now or self.now or dt.datetime.now(),
            n_days=len(self.dates),
            has_channels=self.low_channel is not None,
        )

    def with_options(self, **changes: Any) -> ChartJobInputs:
        """A copy with ``changes`` (e.g. ``force=True``)."""
        return replace(self, **changes)


def drawn_line(row: np.ndarray, hidden: np.ndarray | None) -> np.ndarray:
    """A price line as drawn: ``row`` with NaN where ``hidden`` (None: unchanged)."""
    row = np.asarray(row, dtype=np.float64)
    return row if hidden is None else np.where(hidden, np.nan, row)


def _quoted_lines(analysis: Analysis, rows: list[int], companies: dict[str, str]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]:
    """P and D of ``rows``, the days without a line (before a symbol's first quote,
    while it is stale: data-quality.md 4) and the company names of symbols stale on
    the last day marked "last quote YYYY-MM-DD".  P and D are views of the
    analysis' arrays when ``rows`` are its first rows (CASH is last), not copies."""
    p = analysis.prices
    pick: Any = slice(0, len(rows)) if rows == list(range(len(rows))) else rows
    close, despiked = p.close[pick], p.despiked[pick]
    t = np.arange(close.shape[1])
    stale = p.stale(rows)
    hidden = (t[None, :] < p.first_valid[rows][:, None]) | stale
    names = []
    stale_today = stale[:, -1]
    for k, i in enumerate(rows):
        name = companies.get(p.symbols[i], "")
        if stale_today[k] and p.last_quote is not None and p.last_quote[i, -1] >= 0:
            day = p.dates[p.last_quote[i, -1]].astype("datetime64[D]").item().isoformat()
            name = f"{name} — last quote {day}" if name else f"last quote {day}"
        names.append(name)
    return close, despiked, hidden, tuple(names)


def build_chart_inputs(config: Any, analysis: Analysis, companies: dict[str, str]) -> ChartJobInputs:
    """The charts job's inputs for a daily run.

    Reads ``analysis.prices`` (close, despiked), ``analysis.signals`` (held,
    daily, percentile channels) and the chart settings of
    ``config.valuation``; ``companies`` maps tickers to names (missing ones
    print no name).  CASH is left out.  No line is drawn before a symbol's first
    quote or while it is stale, and a symbol stale today says "last quote ...".  The recent chart's default start is
    computed from the last data date, so the same data draw the same charts.
    Returns the inputs; raises ``ValueError`` when the analysis arrays do not
    match its symbols and dates.
    """
    v = config.valuation
    symbols = analysis.symbols
    rows = [i for i, s in enumerate(symbols) if s != "CASH"]
    sig = analysis.signals

    def take(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else np.asarray(a)[rows]

    chans = v.uptrendSignalMethod == "percentileChannels"
    close, despiked, hidden, names = _quoted_lines(analysis, rows, companies)
    return ChartJobInputs(
        dates=np.asarray(analysis.dates).astype("datetime64[D]"),
        symbols=tuple(symbols[i] for i in rows),
        companies=names,
        close=close,
        despiked=despiked,
        held=take(sig.held),  # type: ignore[arg-type]
        daily=take(sig.daily),  # type: ignore[arg-type]
        low_channel=take(sig.low_channel) if chans else None,
        hi_channel=take(sig.hi_channel) if chans else None,
        params=ChartParams.from_valuation(v, today=analysis.last_date),
        output_dir=Path(config.webpage),
        freshness_hours=float(v.plot_freshness_hours),
        force=False,
        hidden=hidden,
    )


def handoff_payload(spec: ChartJobSpec) -> dict[str, Any]:
    """The JSON values of a charts hand-off for ``spec``."""
    return {
        "symbols": list(spec.symbols),
        "companies": list(spec.companies),
        "params": spec.params_dict(),
        "output_dir": str(spec.output_dir),
        "freshness_hours": spec.freshness_hours,
        "force": spec.force,
        "now": spec.now.isoformat(),
    }


def _need(values: dict[str, Any], key: str, kinds: tuple[type, ...], what: str) -> Any:
    if key not in values:
        raise ValueError(f"missing value {key!r}")
    v = values[key]
    if not isinstance(v, kinds) or (isinstance(v, bool) and bool not in kinds):
        raise ValueError(f"value {key!r} = {v!r}: expected {what}")
    return v


def params_from_dict(d: Any) -> ChartParams:
    """A :class:`ChartParams` from its hand-off form; ``ValueError`` naming the bad field."""
    if not isinstance(d, dict):
        raise ValueError("value 'params': expected an object")
    try:
        periods = d["periods"]
        if not isinstance(periods, list) or not all(
            isinstance(x, int) and not isinstance(x, bool) for x in periods
        ):
            raise ValueError("params.periods: expected a list of integers")
        for key in ("numdaysinfit", "numdaysinfit2", "offset"):
            if not isinstance(d[key], int) or isinstance(d[key], bool):
                raise ValueError(f"params.{key}: expected an integer, got {d[key]!r}")
        if not isinstance(d["method"], str):
            raise ValueError(f"params.method: expected a string, got {d['method']!r}")
        try:
            start = dt.date.fromisoformat(str(d["recent_start"]))
        except ValueError:
            raise ValueError(
                f"params.recent_start: expected a date YYYY-MM-DD, got {d['recent_start']!r}"
            ) from None
        return ChartParams(
            method=d["method"],
            periods=tuple(periods),
            numdaysinfit=d["numdaysinfit"],
            numdaysinfit2=d["numdaysinfit2"],
            offset=d["offset"],
            recent_start=start,
        )
    except KeyError as exc:
        raise ValueError(f"params: missing field {exc.args[0]!r}") from None


def read_chart_handoff(reader: HandoffReader) -> ChartJobSpec:
    """Validate the values and arrays of a charts hand-off; return its spec.

    Checks symbol and company lists, chart parameters, output folder, limits,
    the array set and that every (N, T) array matches the symbols and dates,
    and that dates strictly increase.  Raises :class:`HandoffError` naming the
    offending value or array.
    """
    try:
        vals = reader.values
        symbols = _need(vals, "symbols", (list,), "a list of ticker strings")
        if not symbols or not all(isinstance(s, str) and s for s in symbols):
            raise ValueError("value 'symbols': expected a non-empty list of ticker strings")
        if len({safe_symbol(s) for s in symbols}) != len(symbols):
            raise ValueError("value 'symbols': two symbols map to the same chart file name")
        companies = _need(vals, "companies", (list,), "a list of strings")
        if len(companies) != len(symbols) or not all(isinstance(c, str) for c in companies):
            raise ValueError(f"value 'companies': expected {len(symbols)} strings")
        params = params_from_dict(vals.get("params"))
        out = _need(vals, "output_dir", (str,), "an absolute folder path")
        if not os.path.isabs(out):
            raise ValueError(f"value 'output_dir' = {out!r}: expected an absolute folder path")
        hours = _need(vals, "freshness_hours", (int, float), "a number of hours >= 0")
        if not math.isfinite(hours) or hours < 0:
            raise ValueError(f"value 'freshness_hours' = {hours!r}: expected a number of hours >= 0")
        force = _need(vals, "force", (bool,), "true or false")
        now = _need(vals, "now", (str,), "an ISO date-time")
        try:
            now = dt.datetime.fromisoformat(vals["now"])
        except ValueError:
            raise ValueError(f"value 'now' = {vals['now']!r}: expected an ISO date-time") from None
    except ValueError as exc:
        raise HandoffError(reader.path, str(exc)) from None
    n = len(symbols)
    required = [k for k in ARRAY_NAMES if k not in OPTIONAL_ARRAYS]
    missing = [k for k in required if k not in reader.arrays]
    if missing:
        raise HandoffError(reader.path, f"missing array(s) {', '.join(missing)}")
    chans = [k for k in CHANNEL_ARRAYS if k in reader.arrays]
    if len(chans) == 1:
        raise HandoffError(reader.path, "give both percentile channel arrays or neither")
    dshape = reader.arrays["dates"][0]
    if len(dshape) != 1 or dshape[0] < 2:
        raise HandoffError(reader.path, "array 'dates' must be 1-D with at least 2 days")
    t = dshape[0]
    for name, (shape, dtype) in reader.arrays.items():
        if name not in ARRAY_NAMES:
            raise HandoffError(reader.path, f"unexpected array {name!r}")
        if dtype != ARRAY_NAMES[name]:
            raise HandoffError(reader.path, f"array {name!r} has dtype {dtype.str}, expected "
                               f"{ARRAY_NAMES[name].str}")
        if name != "dates" and shape != (n, t):
            raise HandoffError(reader.path, f"array {name!r} has shape {shape}, expected ({n}, {t})")
    dates = reader.load("dates")
    if not (np.diff(dates.astype(np.int64)) > 0).all():
        raise HandoffError(reader.path, "array 'dates' is not strictly increasing")
    return ChartJobSpec(
        symbols=tuple(symbols),
        companies=tuple(companies),
        params=params,
        output_dir=Path(out),
        freshness_hours=float(hours),
        force=force,
        now=now,
        n_days=t,
        has_channels=bool(chans),
    )
