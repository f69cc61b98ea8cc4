"""The daily run (``pipeline.md`` section 1), stage by stage.

``daily_run(config)`` reads the quote store, computes the analysis (signals,
ranking, backtest), draws or spawns the per-symbol charts, values the user's
holdings and suggests trades, writes the data files and the web site, spawns
the Monte Carlo job when its results are stale, emails when something changed
and appends the status history.  Each stage logs one line with its time; in
async mode the run never waits for a background job.

A failing optional stage (charts, email, Monte Carlo spawn) is logged and
reported in the summary; it never stops the others or the status update.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytaaa._io import remove_stale_temporaries
from pytaaa.config import Config
from pytaaa.engine.analysis import analyze
from pytaaa.engine.cleaning import CleaningError
from pytaaa.engine.outputs import write_outputs
from pytaaa.model import Analysis, Quotes

__all__ = ["RunError", "RunResult", "daily_run", "run_demo"]

log = logging.getLogger(__name__)

HOLDINGS_FILE = "PyTAAA_holdings.params"
STATUS_FILE = "PyTAAA_status.params"


class RunError(Exception):
    """The run cannot go on (bad store, unwritable output folder); ``exit_code`` for the CLI."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class RunResult:
    """What a daily run did: files written, the jobs' outcomes, problems, stage times."""

    config: Config
    analysis: Analysis | None = None
    files: list[Path] = field(default_factory=list)
    charts: Any = None
    montecarlo: Any = None
    email: Any = None
    switching: Any = None
    data_quality: Any = None
    portfolio: Any = None
    plan: Any = None
    problems: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    page: Path | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.problems else 0

    def summary(self) -> str:
        """A few lines for the terminal: the page, picks, jobs and problems."""
        lines = []
        if self.analysis is not None:
            a = self.analysis
            picks = ", ".join(f"{p.symbol} {p.weight:.0%}" for p in a.picks)
            lines.append(f"Data through {a.last_date}: {len(a.symbols) - 1} symbols; picks: {picks}")
            bt = a.backtest.stats.get("strategy", {}).get("whole")
            bh = a.backtest.stats.get("buy_hold", {}).get("whole")
            if bt and bh:
                lines.append(f"Backtest CAGR {bt['cagr']:.1%} (buy-and-hold {bh['cagr']:.1%})")
        if self.data_quality is not None and self.data_quality.findings:
            lines.append(f"Data quality: {self.data_quality.summary()}")
            lines += [f"warning: {f.detail}" for f in self.data_quality.findings
                      if f.symbol == ""]
        for name, outcome in (("Charts", self.charts), ("Monte Carlo", self.montecarlo),
                              ("Email", self.email)):
            if outcome is not None:
                lines.append(f"{name}: {_describe(outcome)}")
        if self.switching is not None:
            lines.append(self.switching.message())
            lines += [f"note: {n}" for n in self.switching.notes]
        if self.page is not None:
            lines.append(f"Web page: {self.page}")
        total = sum(self.timings.values())
        lines.append(f"Run time {total:.2f} s")
        lines += [f"problem: {p}" for p in self.problems]
        return "\n".join(lines)


def _describe(outcome: Any) -> str:
    text = getattr(outcome, "describe", None)
    if callable(text):
        return str(text())
    return str(outcome)


@contextmanager
def _stage(result: RunResult, name: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - t0
        result.timings[name] = result.timings.get(name, 0.0) + elapsed
        log.info("%-12s %7.3f s", name, elapsed)


def _optional(result: RunResult, name: str, fn: Callable[[], Any]) -> Any:
    """Run an optional stage; a failure is logged and recorded, never raised."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - an optional stage must not stop the run
        log.error("%s failed: %s", name, exc)
        result.problems.append(f"{name}: {exc}")
        return None


def _ensure_folder(folder: Path) -> None:
    """Create the output folder ``folder``; raise :class:`RunError` (exit 1) naming it and
    what was expected when it cannot be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if folder.is_symlink() and not folder.exists():
            why = "expected a folder, found a symlink that loops or leads nowhere"
        elif folder.exists() and not folder.is_dir():
            why = "expected a folder, found a file"
        else:
            why = exc.strerror or str(exc)
        raise RunError(f"cannot create output folder {folder}: {why}", 1) from None


def _charts(result: RunResult, cfg: Config, analysis: Analysis, companies: dict[str, str],
            sync: bool | None, force: bool, now: dt.datetime) -> Any:
    from pytaaa.charts.inputs import build_chart_inputs
    from pytaaa.charts.start import outside_window, start_charts

    skipped = outside_window(cfg, now)
    if skipped is not None:
        return skipped
    inputs = build_chart_inputs(cfg, analysis, companies)
    outcome = start_charts(cfg, inputs, sync=sync, force=force, now=now)
    if not outcome.ok:  # could not start, or drawn here with failed charts
        result.problems.append(f"charts: {outcome.reason or outcome.describe()}")
    return outcome


def _montecarlo(result: RunResult, cfg: Config, sync: bool | None, force: bool,
                now: dt.datetime) -> Any:
    from pytaaa.montecarlo.start import start_montecarlo

    outcome = start_montecarlo(cfg, sync=sync, force=force, now=now)
    if not outcome.ok:  # could not start, or run here and failed
        result.problems.append(f"montecarlo: {outcome.reason or outcome.describe()}")
    return outcome


def _data_quality(cfg: Config, analysis: Analysis, now: dt.datetime) -> Any:
    """The data-quality findings of the recent window (``data-quality.md`` 4), logged."""
    from pytaaa.data.check import daily_report

    v = cfg.valuation
    report = daily_report(analysis.prices, stale_days=v.stale_quote_days,
                          warning_days=v.data_warning_days, now=now)
    if report.findings:
        log.warning("data quality: %s", report.summary())
        for f in report.findings:
            log.warning("data quality: %s%s", f"{f.symbol}: " if f.symbol else "", f.detail)
    return report


def _refuse_chart_clashes(cfg: Config, analysis: Analysis) -> None:
    """Refuse, before anything is written, tickers that share one chart file."""
    from pytaaa.charts.symbol import chart_name_clashes

    clashes = chart_name_clashes(analysis.symbols)
    if clashes:
        pairs = "; ".join(f"{a!r} and {b!r}" for a, b in clashes)
        raise RunError(f"{cfg.symbols_file}: tickers {pairs} would share one chart file "
                       "(/ and & become _, case is ignored); expected tickers whose chart "
                       "file names differ: rename one in the store", 2)


def daily_run(
    cfg: Config,
    *,
    sync: bool | None = None,
    force: bool = False,
    send_email: bool = True,
    now: dt.datetime | None = None,
    quotes: Quotes | None = None,
    charts: bool = True,
    montecarlo: bool = True,
) -> RunResult:
    """The daily run for ``cfg``; returns a :class:`RunResult`.

    ``sync`` forces both background jobs into this process (True) or into the
    background (False); None follows the config.  ``force`` redraws fresh
    charts and reruns a fresh Monte Carlo backtest.  ``charts``/``montecarlo``
    False leave a job out (benchmarks).  ``now`` is the run's clock (tests).
    Raises :class:`RunError` when the store cannot be read (exit 2) or the
    output folders cannot be written (exit 1); every other problem is logged,
    recorded in ``problems`` and the run goes on.
    """
    from pytaaa.account import ledger, market, trades
    from pytaaa.data import store
    from pytaaa.site import notify
    from pytaaa.site import pages as web

    now = now or dt.datetime.now()
    v = cfg.valuation
    result = RunResult(config=cfg)
    switching = _switching_settings(cfg)
    with _stage(result, "analysis"):
        try:
            analysis = analyze(cfg, quotes)
        except (store.StoreError, CleaningError) as exc:
            raise RunError(f"{cfg.symbols_file}: {exc}" if isinstance(exc, CleaningError)
                           else str(exc), 2) from None
    result.analysis = analysis
    _refuse_chart_clashes(cfg, analysis)
    with _stage(result, "data check"):
        result.data_quality = _optional(result, "data check",
                                        lambda: _data_quality(cfg, analysis, now))
    if switching is not None:
        with _stage(result, "switching"):
            result.switching = _switching(cfg, switching)
    for folder in (cfg.performance_store, cfg.webpage):
        _ensure_folder(folder)
        remove_stale_temporaries(folder)

    companies = _optional(result, "company names",
                          lambda: store.read_company_names(cfg.symbols_file)) or {}
    changes = _optional(result, "index changes",
                        lambda: store.read_index_changes(cfg.symbols_file)) or []

    if charts:
        with _stage(result, "charts"):
            result.charts = _optional(
                result, "charts",
                lambda: _charts(result, cfg, analysis, companies, sync, force, now))

    with _stage(result, "holdings"):
        holdings_path = cfg.performance_store / HOLDINGS_FILE
        holdings = portfolio = plan = None
        if holdings_path.exists():
            holdings = _optional(result, "holdings", lambda: ledger.read_holdings(holdings_path))
        else:
            log.info("no holdings file %s: trades are not suggested", holdings_path)
        sw = result.switching
        picks = analysis.picks if sw is None or sw.picks is None else sw.picks
        if holdings is not None:
            prices = {**trades.prices_today(analysis), **(sw.prices if sw is not None else {})}
            portfolio = trades.value_holdings(holdings, prices, date=analysis.last_date,
                                              ranks=trades.ranks_today(analysis),
                                              quote_dates=trades.quote_dates(analysis),
                                              stale=trades.stale_today(analysis))
            plan = trades.suggest_trades(portfolio, picks, fee=v.trade_fee,
                                         min_buy=v.min_buy_dollars,
                                         min_adjust=v.min_adjust_dollars)
        result.portfolio, result.plan = portfolio, plan
        status_path = cfg.performance_store / STATUS_FILE
        history = _optional(result, "status history", lambda: ledger.read_status(status_path))
        if history is None:
            history = ledger.parse_status("", status_path)
        entry = None
        if portfolio is not None:
            entry = ledger.next_status_entry(history, now, portfolio.total)

    with _stage(result, "outputs"):
        try:
            result.files += write_outputs(analysis, cfg.performance_store, cfg.webpage)
        except OSError as exc:
            raise RunError(f"cannot write the output file {exc.filename or '?'}: "
                           f"{exc.strerror or exc} (expected a writable folder with free space)",
                           1) from None
        if holdings is not None:
            _optional(result, "diagnostic", lambda: result.files.append(trades.append_diagnostic(
                cfg.performance_store, when=now, holdings=holdings,
                prices=trades.prices_today(analysis), picks=analysis.picks)))
        if result.switching is not None:
            result.files += result.switching.write_files(cfg)
            result.problems += result.switching.problems

    if montecarlo:
        with _stage(result, "montecarlo"):
            result.montecarlo = _optional(
                result, "montecarlo", lambda: _montecarlo(result, cfg, sync, force, now))

    with _stage(result, "web"):
        mstatus = _optional(result, "market status", lambda: market.market_status(now))
        shown = history.with_entry(entry) if entry is not None else history
        pages = _optional(result, "web site", lambda: web.write_site(
            cfg, analysis, portfolio=portfolio, plan=plan, status_history=shown,
            market=mstatus, companies=companies, index_changes=changes, now=now,
            timings=result.timings, switching=result.switching,
            data_quality=result.data_quality))
        if pages:
            result.files += pages
            result.page = cfg.webpage / "pyTAAAweb.html"

    with _stage(result, "email"):
        if send_email and portfolio is not None and plan is not None:
            def _send() -> Any:
                subject, html, text = notify.render_email(
                    cfg, portfolio=portfolio, plan=plan, picks=picks, market=mstatus,
                    last_date=analysis.last_date, now=now,
                    switching_note=(result.switching.message()
                                    if result.switching is not None else None),
                    data_notes=notify.data_notes_for(result.data_quality, portfolio, picks))
                return notify.notify_if_changed(
                    cfg, subject=subject, html=html, text=text, value=portfolio.total,
                    trades_signature=plan.signature(), last_status=history.last)
            result.email = _optional(result, "email", _send)
            if getattr(result.email, "failed", False):
                result.problems.append(f"email: {result.email}")

    with _stage(result, "status"):
        if entry is not None:
            _optional(result, "status history", lambda: ledger.append_status(status_path, entry))
        if holdings is not None and plan is not None:
            _optional(result, "month-end ledger", lambda: trades.update_ledger_month_end(
                holdings_path, holdings, plan, enabled=v.ledger_auto_update, now=now))
    _optional(result, "run summary", lambda: result.files.append(write_run_summary(result)))
    log.info("daily run done in %.2f s", sum(result.timings.values()))
    return result


def _switching_settings(cfg: Config) -> Any:
    """The switching settings of a config with a ``models`` section (None otherwise);
    a bad section is a :class:`RunError` (2) before anything is read or written."""
    from pytaaa.models.settings import (
        SwitchingConfigError,
        is_switching_config,
        read_switching,
    )

    if not is_switching_config(cfg):
        return None
    try:
        return read_switching(cfg)
    except SwitchingConfigError as exc:
        raise RunError(str(exc), 2) from None


def _switching(cfg: Config, settings: Any) -> Any:
    """The switching account's outcome; no model series at all is a :class:`RunError` (2)."""
    from pytaaa.models.account import evaluate_switching
    from pytaaa.models.series import NoModelsError

    try:
        return evaluate_switching(cfg, settings)
    except NoModelsError as exc:
        raise RunError(str(exc), 2) from None


def write_run_summary(result: RunResult) -> Path:
    """Write ``<webpage>/run_summary.json`` (atomically) and return its path: the
    config, the data date, the stage times, today's picks, the problems and, for a
    switching config, the recommendation and any mismatch (``model_switching``);
    plus data quality, performance, holdings, trade plan and jobs
    (:mod:`pytaaa.site.summary`)."""
    import json

    from pytaaa._io import atomic_write_text

    cfg = result.config
    a = result.analysis
    data: dict[str, Any] = {
        "config": str(cfg.path),
        "data_date": a.last_date.isoformat() if a is not None else None,
        "timings": {k: round(float(s), 4) for k, s in result.timings.items()},
        "picks": [{"symbol": p.symbol, "weight": p.weight, "price": p.price}
                  for p in (a.picks if a is not None else ())],
        "problems": list(result.problems),
    }
    if result.switching is not None:
        data["model_switching"] = result.switching.summary()
    from pytaaa.site.summary import run_summary_extras

    data.update(run_summary_extras(result))
    path = cfg.webpage / "run_summary.json"
    atomic_write_text(path, json.dumps(data, indent=2, default=str) + "\n")
    return path


def run_demo(folder: Path, *, n_symbols: int = 100, years: float = 35.0, method: str = "HMAs",
             wait: bool = True) -> RunResult:
    """Create (or reuse) a synthetic workspace in ``folder`` and run the daily run with
    both background jobs async; with ``wait`` watch them until they finish."""
    from pytaaa.config import load_config
    from pytaaa.data.synth import write_workspace

    cfg_path = folder / "pytaaa.json"
    if not cfg_path.exists():
        log.info("creating a synthetic workspace in %s (%d symbols x %.0f years)",
                 folder, n_symbols, years)
        write_workspace(folder, n_symbols=n_symbols, years=years, method=method,
                        config_overrides={"async_plot_generation": True,
                                          "async_montecarlo_backtest": True})
    cfg = load_config(cfg_path)
    result = daily_run(cfg, sync=False, send_email=False)
    if wait:
        ok = wait_for_jobs(cfg.webpage)
        if not ok:
            result.problems.append("a background job did not succeed: see `pytaaa jobs --json "
                                   f"{cfg_path}` and the logs in {cfg.webpage}")
    return result


def wait_for_jobs(webpage: Path, *, poll: float = 1.0, timeout: float = 3600.0,
                  kinds: tuple[str, ...] = ("charts", "montecarlo")) -> bool:
    """Wait until no job of ``kinds`` in ``webpage`` is queued or running, logging
    progress every few seconds; True when every job that ran succeeded."""
    from pytaaa.jobs.status import read_status

    t0 = time.monotonic()
    last_line = ""
    last_log = 0.0
    while True:
        states = {k: read_status(webpage, k) for k in kinds}
        running = {k: s for k, s in states.items()
                   if s is not None and s.get("state") in ("queued", "running")}
        line = "; ".join(f"{k}: {s.get('done', 0)}/{s.get('total') or '?'}"
                         for k, s in running.items())
        if line and (line != last_line and time.monotonic() - last_log >= 3.0):
            log.info("waiting for background jobs (%s)", line)
            last_line, last_log = line, time.monotonic()
        if not running:
            break
        if time.monotonic() - t0 > timeout:
            log.error("background jobs still running after %.0f s", timeout)
            return False
        time.sleep(poll)
    ok = True
    for kind, st in states.items():
        if st is None:
            continue
        log.info("%s job: %s", kind, st.get("state"))
        ok = ok and st.get("state") == "succeeded"
    return ok
