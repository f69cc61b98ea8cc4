"""What the web pages and the email show: rows, images, job banners, formatting.

Pure functions from the run's objects to plain values the Jinja2 templates
render (no I/O except reading image mtimes and the jobs' status files).
Shared by :mod:`pytaaa.site.pages` (the site) and :mod:`pytaaa.site.notify` (the email).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import jinja2
import numpy as np
from markupsafe import Markup

from pytaaa.account.trades import PortfolioValue
from pytaaa.charts.symbol import chart_filename
from pytaaa.model import Analysis

__all__ = [
    "JOB_KINDS",
    "job_log_name",
    "ON_DEMAND_JOB_KINDS",
    "JOB_LABELS",
    "JOB_LOGS",
    "MAIN_PAGE",
    "TODAY_PAGE",
    "MONTH_PAGE",
    "SITE_CHARTS",
    "MC_CHARTS",
    "search_images",
    "ImageRef",
    "SymbolRow",
    "template_env",
    "image_ref",
    "read_job_status",
    "job_banner_text",
    "job_is_finished",
    "symbol_anchor",
    "symbol_rows",
    "ordered_symbols",
    "key_parameters",
    "history_span",
    "holdings_note",
    "as_datetime_text",
    "fmt_money",
    "fmt_num",
    "fmt_pct",
    "fmt_shares",
]

log = logging.getLogger(__name__)

MAIN_PAGE = "pyTAAAweb.html"
TODAY_PAGE = "pyTAAAweb_symbolCharts_TodayRank.html"
MONTH_PAGE = "pyTAAAweb_symbolCharts_MonthStartRank.html"

JOB_KINDS = ("charts", "montecarlo")
#: Job kinds the main page shows only once they have run for the site (on-demand jobs).
ON_DEMAND_JOB_KINDS = ("optimize", "lookback_search")
JOB_LABELS = {"charts": "Charts", "montecarlo": "Monte Carlo", "optimize": "Parameter search",
              "lookback_search": "Lookback search"}
JOB_LOGS = {"charts": "plot_generation.log", "montecarlo": "montecarlo_backtest.log",
            "optimize": "optimize.log", "lookback_search": "lookback_search.log"}
_JOB_UNITS = {"charts": "charts", "montecarlo": "trials", "optimize": "trials",
              "lookback_search": "iterations"}
_FINISHED = ("succeeded", "failed", "cancelled", "died")

#: The main page's charts drawn by the daily run: (file, caption).
SITE_CHARTS = (
    ("PyTAAA_value.png", "Holdings value and timed value (status history)"),
    ("PyTAAA_numberUptrendingStocks.png", "Stocks up-trending"),
    ("PyTAAA_backtestWithTrend.png",
     "Backtest: strategy vs buy-and-hold, with the up-trending share"),
    ("PyTAAA_newHighs_newLows_count.png", "New highs and new lows"),
)
#: The Monte Carlo job's charts: (file, caption).
MC_CHARTS = (
    ("PyTAAA_monteCarloBacktest.png", "Monte Carlo backtest, whole history"),
    ("PyTAAA_monteCarloBacktestRecent.png", "Monte Carlo backtest, recent years"),
)


def search_images(webpage: Path) -> list[ImageRef]:
    """The charts of the last parameter searches in ``webpage`` (``pytaaa optimize``,
    ``pytaaa models search``), captioned with which figures are in-sample."""
    refs = [image_ref(webpage, p.name, f"Parameter search ({p.name[:-len('_optimize.png')]}): "
                      "top, every trial over the whole history (in-sample, the best chosen "
                      "with hindsight); bottom, walk-forward out-of-sample next to that best")
            for p in sorted(webpage.glob("*_optimize.png"))]
    if (webpage / "abacus_lookback_search.png").exists():
        refs.append(image_ref(webpage, "abacus_lookback_search.png",
                              "Lookback search of the switching account (in-sample scores)"))
    return refs


# --------------------------------------------------------------------------- formatting
def fmt_money(v: float | None, decimals: int = 2) -> str:
    """``$1,234.56`` (``-$12.00`` for negatives; an en dash for None/NaN)."""
    if v is None or not math.isfinite(v):
        return "–"
    sign = "-" if v < 0 else ""
    return f"{sign}${abs(v):,.{decimals}f}"


def fmt_num(v: float | None, decimals: int = 2) -> str:
    """``1,234.57`` (an en dash for None/NaN)."""
    if v is None or not math.isfinite(v):
        return "–"
    return f"{v:,.{decimals}f}"


def fmt_pct(v: float | None, decimals: int = 1, signed: bool = False) -> str:
    """``12.3%`` from a percentage value (``+12.3%`` when ``signed``)."""
    if v is None or not math.isfinite(v):
        return "–"
    return f"{v:+.{decimals}f}%" if signed else f"{v:.{decimals}f}%"


def fmt_shares(v: float) -> str:
    """Whole shares without decimals, fractional ones with up to 4."""
    if float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:,.4f}".rstrip("0")


#: C0 control characters (but tab, LF, CR) and DEL become U+FFFD in every rendered value.
_CONTROLS = {c: "\ufffd" for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)}


def _printable(value: object) -> object:
    """A rendered value with control characters (a NUL in a ticker...) made visible."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return value.translate(_CONTROLS)
    return value


def template_env() -> jinja2.Environment:
    """A Jinja2 environment over ``pytaaa/templates`` with the formatting filters.

    HTML templates (``*.html.j2``) are autoescaped; text templates are not.
    Every value has its control characters (NUL...) replaced by U+FFFD, so
    none reaches a page raw.  Undefined variables raise, so a template never
    renders half-empty.
    """
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pytaaa.site", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_printable,
    )
    env.filters.update(money=fmt_money, num=fmt_num, pct=fmt_pct, shares=fmt_shares,
                       urlq=lambda s: quote(str(s), safe=""))
    return env


# --------------------------------------------------------------------------- images
@dataclass(frozen=True)
class ImageRef:
    """An image of a page: file name, caption, the job that makes it (or None)
    and, when the file exists, its ``?v=<mtime>`` URL."""

    name: str
    alt: str
    job: str | None
    exists: bool
    url: str

    @property
    def href(self) -> str:
        """The URL-encoded file name without a version."""
        return quote(self.name)


def image_ref(webpage: Path, name: str, alt: str, job: str | None = None) -> ImageRef:
    """Describe image ``name`` of ``webpage``: exists? and its cache-busting URL."""
    try:
        st = (webpage / name).stat()
        return ImageRef(name, alt, job, True, f"{quote(name)}?v={st.st_mtime_ns // 1000}")
    except OSError:
        return ImageRef(name, alt, job, False, quote(name))


# --------------------------------------------------------------------------- jobs
def read_job_status(webpage: Path, kind: str) -> dict | None:
    """The status dict of job ``kind`` (``<webpage>/.pytaaa/<kind>.json``), or None.

    Read through :func:`pytaaa.jobs.status.read_status`, so a ``running`` job
    whose process is gone (its lock is free) reads as ``died``.  A missing or
    unreadable file gives None.
    """
    from pytaaa.jobs.status import read_status

    try:
        return read_status(webpage, kind)
    except (OSError, ValueError) as exc:
        log.warning("cannot read the %s job status in %s: %s", kind, webpage, exc)
        return None


def _int(d: Mapping, key: str) -> int:
    try:
        return int(d.get(key) or 0)
    except (TypeError, ValueError):
        return 0


def _hhmm(iso: object) -> str:
    s = str(iso or "")
    return s[11:16] if len(s) >= 16 else ""


def job_log_name(kind: str, status: Mapping | None) -> str:
    """The log of job ``kind`` by its file name in the web folder (jobs log there).

    The status records the absolute path; a page links the log by its name so
    the link works from ``file://`` and from ``pytaaa serve``.  Without a
    status it is the kind's usual log name (empty for an unknown kind).
    """
    path = str((status or {}).get("log") or "")
    return Path(path).name if path else JOB_LOGS.get(kind, "")


def job_banner_text(kind: str, status: Mapping | None) -> str:
    """One line for the job banner, e.g. ``Charts: 137 of 200 drawn``.

    The page's script (``pytaaa_site.js``) builds the same text in the browser;
    keep both in step.
    """
    label = JOB_LABELS.get(kind, kind)
    if not status:
        return f"{label}: not started"
    state = str(status.get("state") or "unknown")
    total, done = _int(status, "total"), _int(status, "done")
    skipped, failed = _int(status, "skipped"), _int(status, "failed")
    logname = job_log_name(kind, status) or "the log"
    unit = _JOB_UNITS.get(kind, "items")
    if state == "queued":
        return f"{label}: queued"
    if state == "running":
        if unit in ("trials", "iterations"):
            text = f"{label}: {done} of {total} {unit}"
        else:
            text = f"{label}: {done} of {total} drawn"
        details = ([f"{skipped} fresh"] if skipped else []) + ([f"{failed} failed"] if failed else [])
        return text + (f" ({', '.join(details)})" if details else "")
    if state == "succeeded":
        text = f"{label}: finished {_hhmm(status.get('finished_at'))}".rstrip()
        if unit in ("trials", "iterations"):
            return text + f" — {done} {unit}"
        created = _int(status, "created") if "created" in status else done - skipped - failed
        return text + f" — {created} drawn" + (f", {skipped} fresh" if skipped else "")
    if state == "failed":
        if failed:
            return f"{label}: failed: {failed} {unit} — see {logname}"
        return f"{label}: failed — see {logname}"
    if state == "cancelled":
        when = _hhmm(status.get("finished_at") or status.get("updated_at"))
        return f"{label}: cancelled {when}".rstrip()
    if state == "died":
        return f"{label}: stopped unexpectedly — see {logname}"
    return f"{label}: {state}"


def job_is_finished(status: Mapping | None) -> bool:
    """True for a status in a final state."""
    return bool(status) and status.get("state") in _FINISHED  # type: ignore[union-attr]


# --------------------------------------------------------------------------- symbols
_ANCHOR_RE = re.compile(r"[^A-Za-z0-9_-]")


def symbol_anchor(symbol: str) -> str:
    """An HTML id for ``symbol``: ``sym-`` + the ticker with other characters
    written as ``_<hex>_`` (unique and safe in a URL fragment)."""
    return "sym-" + _ANCHOR_RE.sub(lambda m: f"_{ord(m.group()):x}_", symbol)


@dataclass(frozen=True)
class SymbolRow:
    """One symbol of the ranking table and of the chart pages."""

    symbol: str
    company: str
    rank_today: int
    rank_month_start: int
    weight: float
    price: float
    trend: str
    recent_gain: float | None
    sharpe: float
    anchor: str
    full_chart: str
    recent_chart: str
    flag: str = ""


def quote_flag(analysis: Analysis, i: int) -> str:
    """"" when row ``i`` has a real quote on the last day, else "no quote",
    "last quote YYYY-MM-DD" or "delisted or stale: last quote YYYY-MM-DD"."""
    p = analysis.prices
    if p.last_quote is None:
        return ""
    col = p.last_quote.shape[1] - 1
    last = int(p.last_quote[i, col])
    if last == col:
        return ""
    if last < 0:
        return "no quote"
    day = p.dates[last].astype("datetime64[D]").item().isoformat()
    return f"delisted or stale: last quote {day}" if p.stale(i, col) else f"last quote {day}"


def symbol_rows(
    analysis: Analysis,
    companies: Mapping[str, str],
    symbols: Sequence[str],
    recent_days: int,
) -> list[SymbolRow]:
    """Rows for ``symbols`` (in the given order) from the last day of ``analysis``.

    ``recent_gain`` is the percent change of P over the last ``recent_days``
    trading days (None when the history is shorter); ``trend`` is ``up`` when
    today's daily signal is 1; ``flag`` marks a symbol without a quote today
    (:func:`quote_flag`).
    """
    index = {s: i for i, s in enumerate(analysis.symbols)}
    close = analysis.prices.close
    t = close.shape[1]
    back = min(max(int(recent_days), 1), t - 1) if t > 1 else 0
    rows = []
    for sym in symbols:
        i = index[sym]
        price = float(close[i, -1])
        gain = None
        if back > 0:
            old = float(close[i, -1 - back])
            if math.isfinite(old) and old > 0 and math.isfinite(price):
                gain = (price / old - 1.0) * 100.0
        rows.append(SymbolRow(
            symbol=sym,
            company=companies.get(sym, ""),
            rank_today=int(analysis.rank_today[i]),
            rank_month_start=int(analysis.rank_month_start[i]),
            weight=float(analysis.weights[i, -1]),
            price=price,
            trend="up" if int(analysis.signals.daily[i, -1]) == 1 else "down",
            recent_gain=gain,
            sharpe=float(analysis.score[i, -1]),
            anchor=symbol_anchor(sym),
            full_chart=chart_filename(sym, "full"),
            recent_chart=chart_filename(sym, "recent"),
            flag=quote_flag(analysis, i),
        ))
    return rows


def ordered_symbols(analysis: Analysis, symbols: Sequence[str], by: str) -> list[str]:
    """``symbols`` sorted by ``by`` (``"today"`` or ``"month_start"``) rank, then name order."""
    index = {s: i for i, s in enumerate(analysis.symbols)}
    ranks = analysis.rank_today if by == "today" else analysis.rank_month_start
    return sorted(symbols, key=lambda s: (int(ranks[index[s]]), index[s]))


# --------------------------------------------------------------------------- footer
def key_parameters(valuation: object) -> list[tuple[str, str]]:
    """(name, value) of the strategy parameters worth showing for the configured method."""
    v = valuation
    method = getattr(v, "uptrendSignalMethod")
    names = ["numberStocksTraded", "monthsToHold", "LongPeriod", "stddevThreshold"]
    if method in ("SMAs", "HMAs"):
        names += ["MA1", "MA2", "MA3", "sma2factor"]
    elif method == "percentileChannels":
        names += ["lowPct", "hiPct", "minperiod", "maxperiod", "incperiod"]
    else:
        names += [f"{w}Days_{e}" for w in ("narrow", "medium", "wide") for e in ("min", "max")]
    names += ["trade_cost", "trade_fee"]
    return [(n, str(getattr(v, n))) for n in names]


def history_span(analysis: Analysis) -> tuple[str, str]:
    """First and last date of the analysis as ``YYYY-MM-DD``."""
    d = np.asarray(analysis.dates).astype("datetime64[D]")
    return str(d[0]), str(d[-1])


def holdings_note(portfolio: PortfolioValue | None) -> str:
    """A sentence about the holdings' dates for the page and the email."""
    if portfolio is None:
        return "No holdings file: add PyTAAA_holdings.params to the performance store."
    if portfolio.first_trade_date is None:
        return "The holdings file has no TradeDate: no annualized return."
    return f"Holdings since {portfolio.first_trade_date.isoformat()}."


def as_datetime_text(when: dt.datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS`` with the zone abbreviation when known."""
    text = when.strftime("%Y-%m-%d %H:%M:%S")
    zone = when.strftime("%Z") if when.tzinfo else ""
    return f"{text} {zone}".rstrip()
