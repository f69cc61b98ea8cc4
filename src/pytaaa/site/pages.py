"""The static web site in ``webpage`` (``spec/web.md``).

:func:`write_site` is the one entry point of the daily run: it draws the four
site charts (through :mod:`pytaaa.charts.site`; a chart that fails is logged
and shown as "not drawn"), copies the style sheet and the live-status script
next to the pages and renders, from the Jinja2 templates in
``pytaaa/templates``:

- ``pyTAAAweb.html``: title, market status and run time; the background-job
  banner; holdings, suggested trades, lifetime profit and annualized return;
  today's ranking; the charts (the two Monte Carlo charts "pending" until their
  files exist); recent index changes; a footer with the universe, the method,
  key parameters, the version and the run time per stage.
- ``pyTAAAweb_symbolCharts_TodayRank.html`` and
  ``pyTAAAweb_symbolCharts_MonthStartRank.html``: one block per symbol in rank
  order, a one-row table and ``0_recent_<SYM>.png`` linked to ``0_<SYM>.png``.

Pages work from ``file://`` and from any web server, need nothing from the
network and are written atomically.  Images carry ``?v=<mtime>``; a missing
image is a "pending" box that the page's script swaps for the image once the
background job has drawn it (see ``templates/pytaaa_site.js``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from pytaaa import __version__
from pytaaa._io import atomic_write_bytes, atomic_write_text
from pytaaa.account.ledger import StatusHistory, timing_signal
from pytaaa.account.market import MarketStatus
from pytaaa.account.trades import PortfolioValue, TradePlan
from pytaaa.config import Config
from pytaaa.engine.performance import performance_table
from pytaaa.model import Analysis
from pytaaa.site.context import (
    JOB_KINDS,
    JOB_LABELS,
    JOB_LOGS,
    MAIN_PAGE,
    MC_CHARTS,
    MONTH_PAGE,
    ON_DEMAND_JOB_KINDS,
    SITE_CHARTS,
    TODAY_PAGE,
    as_datetime_text,
    history_span,
    holdings_note,
    image_ref,
    job_banner_text,
    job_is_finished,
    job_log_name,
    key_parameters,
    ordered_symbols,
    read_job_status,
    search_images,
    symbol_rows,
    template_env,
)
from pytaaa.site.switching import switching_context

__all__ = [
    "STATIC_FILES",
    "INDEX_CHANGES_SHOWN",
    "chart_symbols",
    "draw_site_charts",
    "write_static",
    "write_site",
]

log = logging.getLogger(__name__)

STATIC_FILES = ("pytaaa_site.css", "pytaaa_site.js")
#: How many of the newest index changes the main page lists.
INDEX_CHANGES_SHOWN = 20
_TRADE_REASONS = {
    "exit": "no longer picked",
    "new": "new pick",
    "increase": "raise to target weight",
    "decrease": "trim to target weight",
    "stale": "no quote for too long: sold at its last quote",
}


def chart_symbols(analysis: Analysis) -> list[str]:
    """The symbols that have chart pages: every symbol of the universe but CASH."""
    return [s for s in analysis.symbols if s != "CASH"]


# --------------------------------------------------------------------------- charts
def draw_site_charts(
    webpage: Path, analysis: Analysis, status_history: StatusHistory
) -> list[Path]:
    """Draw the four charts of the main page into ``webpage`` (web.md section 1 item 5).

    Reads the analysis (backtest, counts, breadth) and the status history (the
    value chart: the last entry of each day, with the timed value of
    :func:`pytaaa.account.ledger.timing_signal`).  Returns the PNGs
    written.  A chart that raises is logged as a warning and left out; the value
    chart is left out while the status history is empty.  Never raises for a
    chart; raises ``ImportError`` only when :mod:`pytaaa.charts.site` is missing.
    """
    from pytaaa.charts import site as site_charts

    dates = np.asarray(analysis.dates).astype("datetime64[D]")
    bt = analysis.backtest
    active = np.asarray(analysis.active_count, dtype=np.float64)
    uptrend = np.asarray(analysis.uptrend_count, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        uptrend_pct = np.where(active > 0, uptrend / active * 100.0, 0.0)
    daily = status_history.daily_entries()
    s_times = [e.when for e in daily]
    s_values = np.array([e.value for e in daily], dtype=np.float64)
    _signal, timed = timing_signal(s_values)

    tasks = []
    if len(s_values):
        tasks.append((SITE_CHARTS[0][0],
                      lambda p: site_charts.plot_value_history(s_times, s_values, timed, p)))
    else:
        log.info("no status history yet: %s not drawn", SITE_CHARTS[0][0])
    tasks += [
        (SITE_CHARTS[1][0], lambda p: site_charts.plot_uptrending(dates, uptrend, active, p)),
        (SITE_CHARTS[2][0], lambda p: site_charts.plot_backtest_with_trend(
            np.asarray(bt.dates).astype("datetime64[D]"), bt.strategy, bt.buy_hold,
            uptrend_pct, p)),
        (SITE_CHARTS[3][0], lambda p: site_charts.plot_new_highs_lows(
            dates, analysis.new_highs, analysis.new_lows, p)),
    ]
    written = []
    for name, draw in tasks:
        path = webpage / name
        try:
            draw(path)
        except Exception as exc:  # one broken chart must not cost the whole page
            log.warning("chart %s not drawn: %s: %s", name, type(exc).__name__, exc)
            continue
        written.append(path)
    return written


# --------------------------------------------------------------------------- static files
def _static(name: str) -> bytes:
    return resources.files("pytaaa.site").joinpath("templates", name).read_bytes()


def write_static(webpage: Path) -> tuple[list[Path], str]:
    """Copy the style sheet and script next to the pages (only when changed).

    Returns the files written and a short version string of their content for
    the pages' ``?v=`` queries.  Raises ``OSError`` when they cannot be written.
    """
    digest = hashlib.sha256()
    written = []
    for name in STATIC_FILES:
        data = _static(name)
        digest.update(data)
        dest = webpage / name
        try:
            same = dest.read_bytes() == data
        except OSError:
            same = False
        if not same:
            atomic_write_bytes(dest, data)
            written.append(dest)
    return written, digest.hexdigest()[:12]


# --------------------------------------------------------------------------- context
def _jobs_context(webpage: Path, kinds: Sequence[str]) -> tuple[list[dict], dict]:
    jobs = []
    finished: dict[str, str | None] = {}
    for kind in kinds:
        status = read_job_status(webpage, kind)
        logname = job_log_name(kind, status)
        jobs.append({
            "kind": kind,
            "state": str(status.get("state")) if status else "absent",
            "text": job_banner_text(kind, status),
            "log": logname,
            "log_exists": bool(logname) and (webpage / logname).is_file(),
        })
        if job_is_finished(status):
            finished[kind] = str(status.get("finished_at") or status.get("updated_at") or "")
        else:
            finished[kind] = None
    cfg = {
        "kinds": list(kinds),
        "labels": {k: JOB_LABELS[k] for k in kinds},
        "logs": {k: JOB_LOGS[k] for k in kinds},
        "finished": finished,
        "progressive": [k for k in kinds if k == "charts"],
    }
    return jobs, cfg


def _timings(analysis: Analysis, extra: Mapping[str, float] | None) -> list[tuple[str, float]]:
    merged = dict(analysis.timings)
    merged.update(extra or {})
    return [(k, float(v)) for k, v in merged.items()]


def _base_context(
    config: Config,
    analysis: Analysis,
    *,
    market: MarketStatus | None,
    now: dt.datetime,
    timings: Mapping[str, float] | None,
    static_version: str,
) -> dict:
    v = config.valuation
    stages = _timings(analysis, timings)
    return {
        "version": __version__,
        "stock_list": v.stockList,
        "method": v.uptrendSignalMethod,
        "parameters": key_parameters(v),
        "n_symbols": len([s for s in analysis.symbols if s != "CASH"]),
        "span": history_span(analysis),
        "last_date": analysis.last_date.isoformat(),
        "run_time": as_datetime_text(now),
        "market_label": market.label if market is not None else "Market status unavailable",
        "market_open": bool(market.is_open) if market is not None else False,
        "timings": stages,
        "timings_total": sum(s for _k, s in stages),
        "static_version": static_version,
        "main_page": MAIN_PAGE,
        "today_page": TODAY_PAGE,
        "month_page": MONTH_PAGE,
    }


def _index_changes(
    changes: Sequence[tuple[dt.date, str, str]], companies: Mapping[str, str]
) -> list[dict]:
    newest = sorted(changes, key=lambda c: c[0], reverse=True)[:INDEX_CHANGES_SHOWN]
    return [
        {"date": d.isoformat(), "action": a, "symbol": s, "company": companies.get(s, "")}
        for d, a, s in newest
    ]


# --------------------------------------------------------------------------- entry point
#: rows of the "Data quality" box; the rest is counted and left to `pytaaa data check`
DATA_QUALITY_ROWS = 25


def data_quality_context(report: Any) -> dict[str, Any] | None:
    """The "Data quality" box: None without findings, else the summary line, the
    first ``DATA_QUALITY_ROWS`` findings (store-wide ones first) and how many more."""
    if report is None or not report.findings:
        return None
    rows = sorted(report.findings, key=lambda f: f.symbol != "")
    return {"summary": report.summary(), "rows": rows[:DATA_QUALITY_ROWS],
            "more": max(0, len(rows) - DATA_QUALITY_ROWS)}


def write_site(
    config: Config,
    analysis: Analysis,
    *,
    portfolio: PortfolioValue | None,
    plan: TradePlan | None,
    status_history: StatusHistory,
    market: MarketStatus | None,
    companies: Mapping[str, str],
    index_changes: Sequence[tuple[dt.date, str, str]],
    now: dt.datetime,
    timings: Mapping[str, float] | None = None,
    draw_charts: bool = True,
    symbols: Sequence[str] | None = None,
    switching: Any = None,
    data_quality: Any = None,
) -> list[Path]:
    """Write the whole web site into ``config.webpage`` and return the files written.

    Reads: the analysis; the valued holdings (``portfolio``, None without a
    holdings file) and the trade ``plan``; the status history for the value
    chart (pass it with this run's entry already added, see
    :func:`pytaaa.account.ledger.next_status_entry`); the market status; company names
    and index changes (``pytaaa.data.store``); ``now`` (the run's time);
    ``timings`` (stage -> seconds, added to ``analysis.timings``); and the
    jobs' status files and image mtimes in ``webpage``.  ``draw_charts=False``
    skips the four site charts (they must then exist already).  ``symbols``
    are the symbols with chart pages (default :func:`chart_symbols`).
    ``switching`` (a :class:`~pytaaa.models.account.SwitchingOutcome`, for a
    switching config) adds the "Model switching" section.  ``data_quality`` (a
    :class:`~pytaaa.data.check.CheckReport`) adds the "Data quality" box when it
    has findings.  The performance table comes from the analysis' backtest.

    Creates ``webpage`` if needed.  Raises ``OSError`` when it cannot be
    written; a chart that fails to draw is logged, never raised.
    """
    webpage = Path(config.webpage)
    webpage.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if draw_charts:
        written += draw_site_charts(webpage, analysis, status_history)
    static_written, static_version = write_static(webpage)
    written += static_written

    env = template_env()
    base = _base_context(config, analysis, market=market, now=now, timings=timings,
                         static_version=static_version)
    syms = list(symbols) if symbols is not None else chart_symbols(analysis)
    recent_days = int(config.valuation.LongPeriod)
    by_today = symbol_rows(analysis, companies, ordered_symbols(analysis, syms, "today"),
                           recent_days)
    chart_links = {r.symbol: r.anchor for r in by_today}

    kinds = JOB_KINDS + tuple(k for k in ON_DEMAND_JOB_KINDS if read_job_status(webpage, k))
    jobs, page_cfg = _jobs_context(webpage, kinds)
    main_html = env.get_template("main.html.j2").render(
        **base,
        page_title=f"PyTAAA — {config.valuation.stockList}",
        jobs=jobs,
        page_cfg=page_cfg,
        portfolio=portfolio,
        plan=plan,
        holdings_note=holdings_note(portfolio),
        trade_reasons=_TRADE_REASONS,
        rows=by_today,
        chart_links=chart_links,
        recent_days=recent_days,
        site_images=[image_ref(webpage, n, alt) for n, alt in SITE_CHARTS],
        mc_images=[image_ref(webpage, n, alt, "montecarlo") for n, alt in MC_CHARTS],
        search_images=search_images(webpage),
        index_changes=_index_changes(index_changes, companies),
        sw=None if switching is None else switching_context(switching, webpage),
        dq=data_quality_context(data_quality),
        performance=performance_table(analysis.backtest),
    )
    atomic_write_text(webpage / MAIN_PAGE, main_html)
    written.append(webpage / MAIN_PAGE)

    chart_jobs, chart_cfg = _jobs_context(webpage, ("charts",))
    by_month = symbol_rows(analysis, companies, ordered_symbols(analysis, syms, "month_start"),
                           recent_days)
    thumbs = {
        r.symbol: image_ref(webpage, r.recent_chart, f"{r.symbol} recent chart", "charts")
        for r in by_today
    }
    for page, heading, rows in (
        (TODAY_PAGE, "Charts in order of today's rank", by_today),
        (MONTH_PAGE, "Charts in order of the rank at the start of the month", by_month),
    ):
        html = env.get_template("symbol_charts.html.j2").render(
            **base,
            page_title=f"PyTAAA — {config.valuation.stockList} — {heading.lower()}",
            heading=heading,
            jobs=chart_jobs,
            page_cfg=chart_cfg,
            rows=rows,
            thumbs=thumbs,
        )
        atomic_write_text(webpage / page, html)
        written.append(webpage / page)
    log.info("web site written to %s (%d files)", webpage, len(written))
    return written
