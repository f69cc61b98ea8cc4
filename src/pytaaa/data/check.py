"""Data-quality findings of a quote store and their safe repairs (``data-quality.md``).

:func:`check_quotes` reads raw quotes (NaN = no quote; bad values, repeated and
weekend dates still in place) and returns a :class:`CheckReport`: one
:class:`Finding` per problem — symbol, kind, dates, size and a sentence.  Kinds:

- per symbol: ``gap`` (interior days without a quote), ``stale`` (no quote for
  more than ``stale_days`` trading days up to the last date), ``delisted`` (no
  quote for more than ``DELISTED_DAYS``), ``not daily`` (median spacing of real
  quotes above 3 calendar days), ``bad print`` (a one-day jump of 40 % or more
  that reverts at the next quote), ``suspected split`` (a one-day move within 3 %
  of a split ratio 2, 3, 4, 5, 10 or an inverse, that does not revert),
  ``big move`` (any other one-day move beyond ±50 %), ``non-positive`` (zero,
  negative or denormal prices), ``absurd`` (infinite or above 1e9);
- for the store: ``duplicate date``, ``weekend row``, ``stale store`` (the last
  date is more than one session behind the last completed NYSE session),
  ``partial update`` (symbols without a quote on the last date that had one
  shortly before) and ``empty last day`` (no symbol has a quote on it).

``recent`` limits the move findings (bad print, split, big move) to the last
days, as the daily run does (``data_warning_days``).  :func:`fix_quotes`
repairs what can be repaired safely (duplicates keep the last row, bad prints,
non-positive and absurd values become "no quote", suspected splits adjust the
symbol's earlier prices) and lists every change.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pytaaa.model import Prices, Quotes

__all__ = [
    "Finding",
    "CheckReport",
    "check_quotes",
    "daily_report",
    "run_check",
    "CheckOutcome",
    "fix_quotes",
    "sessions_behind",
    "KINDS",
    "FIXABLE",
]

MIN_PRICE = 1e-6
MAX_PRICE = 1e9
DELISTED_DAYS = 63
BAD_PRINT_JUMP = 1.4        # a one-day jump of 40 % or more ...
BAD_PRINT_REVERT = 0.10     # ... whose next quote is back within 10 % of the one before
BIG_MOVE = 0.5
SPLIT_RATIOS = (2.0, 3.0, 4.0, 5.0, 10.0)
SPLIT_TOLERANCE = 0.03
MAX_DAILY_SPACING = 3.0

KINDS = (
    "empty last day", "partial update", "stale store", "duplicate date", "weekend row",
    "suspected split", "bad print", "big move", "non-positive", "absurd", "not daily",
    "delisted", "stale", "gap",
)
#: kinds that ``pytaaa data check --fix`` repairs
FIXABLE = frozenset({"duplicate date", "bad print", "suspected split", "non-positive", "absurd"})


@dataclass(frozen=True)
class Finding:
    """One problem: ``symbol`` ("" for the whole store), ``kind`` (see ``KINDS``),
    first and last date, ``size`` (days, a ratio or a count; see ``detail``) and
    one sentence that says it."""

    symbol: str
    kind: str
    start: dt.date | None
    end: dt.date | None
    size: float
    detail: str

    @property
    def fixable(self) -> bool:
        return self.kind in FIXABLE

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["start"] = self.start.isoformat() if self.start else None
        d["end"] = self.end.isoformat() if self.end else None
        d["fixable"] = self.fixable
        return d


@dataclass(frozen=True)
class CheckReport:
    """All findings of one store, in ``KINDS`` order then by symbol and date."""

    findings: tuple[Finding, ...]
    n_symbols: int
    n_days: int
    last_date: dt.date | None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.findings

    def of_kind(self, *kinds: str) -> list[Finding]:
        return [f for f in self.findings if f.kind in kinds]

    def summary(self) -> str:
        """One line: "clean" or the number of findings per kind."""
        if not self.findings:
            return (f"clean: {self.n_symbols} symbols x {self.n_days} days through "
                    f"{self.last_date}")
        parts = ", ".join(f"{n} {k}" for k, n in self.counts.items())
        return f"{len(self.findings)} findings ({parts}) in {self.n_symbols} symbols x " \
               f"{self.n_days} days through {self.last_date}"


def _day(d: np.datetime64) -> dt.date:
    return np.datetime64(d, "D").item()


@functools.lru_cache(maxsize=4)
def _calendar(first_year: int, last_year: int) -> Any:
    """The NYSE calendar from 1 Jan of ``first_year - 1`` to 31 Dec of ``last_year + 1``
    (built once per process: building one takes a tenth of a second)."""
    import exchange_calendars as xcals
    import pandas as pd

    return xcals.get_calendar("XNYS", start=pd.Timestamp(first_year - 1, 1, 1),
                              end=pd.Timestamp(last_year + 1, 12, 31))


def sessions_behind(last: dt.date, now: dt.datetime) -> int:
    """NYSE sessions completed after ``last`` up to ``now`` (a session counts once
    it has closed).  Uses the exchange calendar; 0 when it cannot tell."""
    import warnings

    import pandas as pd

    ts = pd.Timestamp(now)
    ts = ts.tz_localize("America/New_York") if ts.tzinfo is None else ts
    start = pd.Timestamp(last) + pd.Timedelta(days=1)
    end = pd.Timestamp(ts.tz_convert("America/New_York").date())
    if end < start:
        return 0
    with warnings.catch_warnings():
        # the library trips pandas' own deprecations; they are not the user's business
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            cal = _calendar(start.year, end.year)
            sessions = cal.sessions_in_range(start, end)
            closes = cal.schedule.loc[sessions, "close"]
        except Exception:  # noqa: BLE001 - a calendar the library cannot build: no finding
            return 0
    return int((closes <= ts.tz_convert("UTC")).sum())


def _store_findings(dates: np.ndarray, tail: np.ndarray, symbols: Sequence[str],
                    stale_days: int, now: dt.datetime | None) -> list[Finding]:
    """Findings of the store as a whole; ``tail`` is the raw close of its last
    ``stale_days + 1`` rows of dates (fewer when the store is shorter)."""
    out: list[Finding] = []
    days = dates.astype("datetime64[D]")
    if days.size > 1:
        dup = np.flatnonzero(days[1:] == days[:-1])
        for d in np.unique(days[dup + 1]):
            n = int((days == d).sum())
            out.append(Finding("", "duplicate date", _day(d), _day(d), n,
                               f"{_day(d)} appears {n} times"))
    weekday = (days.astype(np.int64) + 3) % 7  # 0 = Monday
    for d in np.unique(days[weekday >= 5]):
        out.append(Finding("", "weekend row", _day(d), _day(d), 1,
                           f"a row on {_day(d):%A} {_day(d)}"))
    if days.size == 0:
        return out
    last = _day(days[-1])
    if now is not None:
        behind = sessions_behind(last, now)
        if behind > 1:
            out.append(Finding("", "stale store", last, last, behind,
                               f"data through {last}: {behind} sessions old"))
    with np.errstate(invalid="ignore"):
        quoted = np.isfinite(tail) & (tail > MIN_PRICE) & (tail <= MAX_PRICE)
    t = quoted.shape[1]
    recent = quoted[:, max(0, t - 1 - stale_days): t - 1].any(axis=1)
    expected = [s for s, ok in zip(symbols, recent) if ok]
    missing = [s for s, ok, q in zip(symbols, recent, quoted[:, -1]) if ok and not q]
    if days.size > 1 and expected and len(missing) == len(expected) and not quoted[:, -1].any():
        out.append(Finding("", "empty last day", last, last, len(missing),
                           f"no symbol has a quote for {last} (the store's last date): "
                           "an empty or phantom row"))
    elif missing:
        names = ", ".join(missing[:12]) + (" ..." if len(missing) > 12 else "")
        out.append(Finding("", "partial update", last, last, len(missing),
                           f"{len(missing)} of {len(expected)} symbols have no quote for "
                           f"{last}: {names}"))
    return out


def _split_ratio(g: float) -> float | None:
    for r in SPLIT_RATIOS:
        for target in (r, 1.0 / r):
            if abs(g / target - 1.0) <= SPLIT_TOLERANCE:
                return target
    return None


def _symbol_findings(sym: str, days: np.ndarray, pydays: list[dt.date], row: np.ndarray,
                     stale_days: int, move_from: int, gap_from: int = 0) -> list[Finding]:
    out: list[Finding] = []
    t = row.size
    with np.errstate(invalid="ignore"):
        nonpos = np.isfinite(row) & (row <= MIN_PRICE)
        absurd = np.isinf(row) | (np.isfinite(row) & (row > MAX_PRICE))
    for mask, kind, what in ((nonpos, "non-positive", "zero, negative or denormal"),
                             (absurd, "absurd", "infinite or above 1e9")):
        if mask.any():
            idx = np.flatnonzero(mask)
            out.append(Finding(sym, kind, pydays[idx[0]], pydays[idx[-1]], idx.size,
                               f"{idx.size} {what} prices (first {pydays[idx[0]]}), "
                               "not used as quotes"))
    quoted = np.isfinite(row) & ~nonpos & ~absurd
    idx = np.flatnonzero(quoted)
    if idx.size == 0:
        out.append(Finding(sym, "delisted", None, None, t, "no quote at all"))
        return out
    first, last = int(idx[0]), int(idx[-1])
    trailing = t - 1 - last
    if trailing > DELISTED_DAYS:
        out.append(Finding(sym, "delisted", pydays[last], pydays[-1], trailing,
                           f"last quote {pydays[last]} ({trailing} trading days ago)"))
    elif trailing > stale_days:
        out.append(Finding(sym, "stale", pydays[last], pydays[-1], trailing,
                           f"last quote {pydays[last]} ({trailing} trading days ago)"))
    # interior gaps: runs of missing days between the first and the last quote
    holes = np.diff(idx) - 1
    for j in np.flatnonzero((holes > 0) & (idx[1:] - 1 >= gap_from)):
        a, b = int(idx[j]) + 1, int(idx[j + 1]) - 1
        n = int(holes[j])
        out.append(Finding(sym, "gap", pydays[a], pydays[b], n,
                           f"{n} day{'s' if n > 1 else ''} without a quote "
                           f"({pydays[a]} .. {pydays[b]}), carried from "
                           f"{pydays[idx[j]]}"))
    cal = days[idx].astype(np.int64)
    spacing = np.diff(cal)
    # the median can exceed 3 days only when at least half the spacings do (cheap test first)
    if idx.size > 2 and 2 * int((spacing > MAX_DAILY_SPACING).sum()) >= spacing.size:
        med = float(np.median(spacing))
        if med > MAX_DAILY_SPACING:
            out.append(Finding(sym, "not daily", pydays[first], pydays[last], med,
                               f"quotes every {med:g} calendar days (median): not eligible "
                               "for picks"))
    p = row[idx]
    if p.size < 2:
        return out
    # gains j0 .. (between quotes j and j + 1) may be findings; earlier ones never are
    n_gains = p.size - 1
    j0 = int(np.searchsorted(idx[1:], move_from))
    g = p[j0 + 1:] / p[j0:-1]
    near_split = np.zeros(g.size, dtype=bool)
    for r in SPLIT_RATIOS:
        near_split |= (np.abs(g / r - 1.0) <= SPLIT_TOLERANCE) | (np.abs(g * r - 1.0) <= SPLIT_TOLERANCE)
    cand = (g >= BAD_PRINT_JUMP) | (g <= 1.0 / BAD_PRINT_JUMP) | near_split \
        | (np.abs(g - 1.0) > BIG_MOVE)
    used = np.zeros(g.size, dtype=bool)
    for jj in np.flatnonzero(cand):
        j = j0 + int(jj)
        at = int(idx[j + 1])
        if used[jj]:
            continue
        gj = float(g[jj])
        big_jump = gj >= BAD_PRINT_JUMP or gj <= 1.0 / BAD_PRINT_JUMP
        if big_jump and j + 1 < n_gains and abs(p[j + 2] / p[j] - 1.0) <= BAD_PRINT_REVERT:
            used[jj + 1] = True
            out.append(Finding(sym, "bad print", pydays[at], pydays[at], gj,
                               f"{pydays[at]}: {row[at]:.6g} is x{gj:.2f} the quote "
                               f"before and reverts at the next quote"))
            continue
        ratio = _split_ratio(gj)
        if ratio is not None:
            label = (f"{round(1 / ratio):d}-for-1 split" if ratio < 1
                     else f"1-for-{round(ratio):d} reverse split")
            out.append(Finding(sym, "suspected split", pydays[at], pydays[at], ratio,
                               f"{pydays[at]}: one-day move x{gj:.3f}, close to a "
                               f"{label}; earlier prices look unadjusted"))
            continue
        if abs(gj - 1.0) > BIG_MOVE:
            out.append(Finding(sym, "big move", pydays[at], pydays[at], gj,
                               f"{pydays[at]}: one-day move {gj - 1.0:+.0%}"))
    return out


def check_quotes(quotes: Quotes, *, stale_days: int = 5, recent: int | None = None,
                 now: dt.datetime | None = None, recent_gaps: bool = False) -> CheckReport:
    """Every finding of ``quotes`` (raw: repeated dates and bad values allowed).

    ``stale_days`` is ``stale_quote_days``; ``recent`` limits the move findings
    to the last that many days (None: the whole history), and with
    ``recent_gaps`` the gaps too; ``now`` enables the
    stale-store finding against the NYSE calendar.  Reads nothing else; raises
    nothing for any content.
    """
    dates = np.asarray(quotes.dates).astype("datetime64[D]")
    close = np.asarray(quotes.close, dtype=np.float64)
    if dates.size > 1 and bool((dates[1:] < dates[:-1]).any()):
        order = np.argsort(dates, kind="stable")
        dates, close = dates[order], close[:, order]
    keep = np.ones(dates.size, dtype=bool)
    keep[:-1] = dates[:-1] != dates[1:]
    d1, c1 = (dates, close) if keep.all() else (dates[keep], close[:, keep])
    return _report(dates, d1, quotes.symbols, c1.__getitem__, close[:, -(stale_days + 1):],
                   stale_days=stale_days, recent=recent, now=now, recent_gaps=recent_gaps)


def _report(store_dates: np.ndarray, days: np.ndarray, symbols: Sequence[str],
            row: Callable[[int], np.ndarray], tail: np.ndarray, *, stale_days: int,
            recent: int | None, now: dt.datetime | None, recent_gaps: bool) -> CheckReport:
    """The report of :func:`check_quotes`: ``store_dates`` sorted (repeats kept),
    ``days`` the unique ones, ``row(i)`` the raw close of symbol i on ``days`` and
    ``tail`` the raw close of the last ``stale_days + 1`` ``store_dates``.  Asks
    for one row at a time, so a caller never needs the whole raw matrix."""
    rows = [i for i, s in enumerate(symbols) if s != "CASH"]
    findings = _store_findings(store_dates, tail[rows], [symbols[i] for i in rows],
                               stale_days, now)
    move_from = 0 if recent is None else max(0, days.size - int(recent))
    pydays = days.tolist()
    for i in rows:
        findings += _symbol_findings(symbols[i], days, pydays, row(i), stale_days, move_from,
                                     move_from if recent_gaps else 0)
    rank = {k: n for n, k in enumerate(KINDS)}
    findings.sort(key=lambda f: (rank[f.kind], f.symbol, f.start or dt.date.min))
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.kind] = counts.get(f.kind, 0) + 1
    return CheckReport(tuple(findings), len(rows), int(days.size),
                       _day(days[-1]) if days.size else None, counts)


def fix_quotes(quotes: Quotes, report: CheckReport) -> tuple[Quotes, list[str]]:
    """Repair the fixable findings of ``report`` in ``quotes``; returns the repaired
    quotes (dates sorted and unique) and one line per change."""
    dates = np.asarray(quotes.dates).astype("datetime64[D]")
    close = np.asarray(quotes.close, dtype=np.float64).copy()
    order = np.argsort(dates, kind="stable")
    dates, close = dates[order], close[:, order]
    changes: list[str] = []
    keep = np.ones(dates.size, dtype=bool)
    keep[:-1] = dates[:-1] != dates[1:]
    if not keep.all():
        for d in np.unique(dates[~keep]):
            changes.append(f"{_day(d)}: repeated date, kept the last row")
        dates, close = dates[keep], close[:, keep]
    index = {s: i for i, s in enumerate(quotes.symbols)}
    pos = {d: j for j, d in enumerate(dates.tolist())}
    for f in report.findings:
        i = index.get(f.symbol)
        if i is None:
            continue
        if f.kind in ("non-positive", "absurd"):
            with np.errstate(invalid="ignore"):
                bad = (np.isfinite(close[i]) & (close[i] <= MIN_PRICE)) | np.isinf(close[i]) \
                    | (np.isfinite(close[i]) & (close[i] > MAX_PRICE))
            if bad.any():
                close[i, bad] = np.nan
                changes.append(f"{f.symbol}: {int(bad.sum())} {f.kind} prices set to no quote")
        elif f.kind == "bad print" and f.start is not None:
            j = pos[f.start]
            changes.append(f"{f.symbol} {f.start}: bad print {close[i, j]:.6g} set to no quote")
            close[i, j] = np.nan
        elif f.kind == "suspected split" and f.start is not None:
            j = pos[f.start]
            close[i, :j] *= f.size
            changes.append(f"{f.symbol}: prices before {f.start} multiplied by {f.size:g} "
                           "(split adjustment)")
    return Quotes(dates=dates, symbols=tuple(quotes.symbols), close=close), changes


#: kinds a daily run always reports, whatever their dates
_ALWAYS = frozenset({"empty last day", "partial update", "stale store", "duplicate date",
                     "not daily", "stale"})


def daily_report(prices: Prices, *, stale_days: int = 5, warning_days: int = 30,
                 now: dt.datetime | None = None) -> CheckReport:
    """The findings a daily run reports (``data-quality.md`` section 4).

    Reads the cleaned :class:`~pytaaa.model.Prices` (its real quotes) and
    returns the findings of :func:`check_quotes` that touch the last
    ``warning_days`` days: the store-wide ones, stale and non-daily symbols,
    and gaps, delistings and moves ending in that window.  ``now`` enables the
    stale-store finding.
    """
    quoted, close = prices.quoted_mask(), prices.close
    days = np.asarray(prices.dates).astype("datetime64[D]")
    if days.size > 1 and bool((days[1:] <= days[:-1]).any()):  # unsorted or repeated dates
        raw = np.where(quoted, close, np.nan)
        full = check_quotes(Quotes(dates=days, symbols=tuple(prices.symbols), close=raw),
                            stale_days=stale_days, recent=warning_days, now=now,
                            recent_gaps=True)
    else:  # the raw quotes a row at a time: no (N, T) copy
        k = stale_days + 1
        full = _report(days, days, prices.symbols,
                       lambda i: np.where(quoted[i], close[i], np.nan),
                       np.where(quoted[:, -k:], close[:, -k:], np.nan), stale_days=stale_days,
                       recent=warning_days, now=now, recent_gaps=True)
    since = _day(days[max(0, days.size - int(warning_days))]) if days.size else dt.date.min
    keep = tuple(f for f in full.findings
                 if f.kind in _ALWAYS or (f.end is not None and f.end >= since
                                          and (f.kind != "delisted" or f.start >= since)))
    counts: dict[str, int] = {}
    for f in keep:
        counts[f.kind] = counts.get(f.kind, 0) + 1
    return CheckReport(keep, full.n_symbols, full.n_days, full.last_date, counts)


@dataclass(frozen=True)
class CheckOutcome:
    """What ``pytaaa data check`` did: the report (after repairs, with ``fix``),
    the backup of the store and the changes made."""

    report: CheckReport
    backup: Path | None = None
    changes: list[str] = field(default_factory=list)


def run_check(symbols_file: Path, *, stale_days: int = 5, fix: bool = False,
              now: dt.datetime | None = None) -> CheckOutcome:
    """Check the store of ``symbols_file``; with ``fix`` repair it.

    Reads the store raw (:func:`pytaaa.data.hdf5.read_store` with ``raw``).  With
    ``fix`` and fixable findings, copies the store to
    ``<store>.bak-YYYYmmdd-HHMMSS`` first, writes the repaired store (atomically)
    and checks it again; the returned report is then the one after the repair.
    Raises :class:`~pytaaa.data.hdf5.StoreError` for an unreadable store and
    ``OSError`` when the backup or the store cannot be written.
    """
    from pytaaa._io import atomic_write_bytes
    from pytaaa.data.hdf5 import read_store, store_location, write_store

    quotes = read_store(symbols_file, raw=True)
    report = check_quotes(quotes, stale_days=stale_days, now=now)
    if not fix or not any(f.fixable for f in report.findings):
        return CheckOutcome(report)
    path, key = store_location(symbols_file)
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    backup = path.with_name(f"{path.name}.bak-{stamp}")
    atomic_write_bytes(backup, path.read_bytes())
    fixed, changes = fix_quotes(quotes, report)
    write_store(path, key, fixed)
    return CheckOutcome(check_quotes(read_store(symbols_file, raw=True), stale_days=stale_days,
                                     now=now), backup, changes)
