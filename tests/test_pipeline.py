"""The daily run end to end on a synthetic workspace: outputs, determinism, both jobs async
(the run returns first; email and status still happen), the CLI, and the page in a browser."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from pytaaa.config import load_config
from pytaaa.data.synth import write_workspace
from pytaaa.jobs.status import read_status
from pytaaa.pipeline import daily_run, wait_for_jobs

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
DATA_FILES = ("performance/pyTAAAweb_backtestPortfolioValue.params",
              "performance/PyTAAA_ranks.params",
              "web/pyTAAAweb_numberUptrendingStocks_status.params")
MC_DATA_FILES = ("performance/pyTAAAweb_backtestPortfolioValue.mc.params",
                 "performance/pyTAAAweb_backtestPctLong.params",
                 "performance/pyTAAAweb_backtestTodayMontecarloPortfolioValue.csv")


def workspace(tmp_path: Path, name: str = "ws", **overrides) -> Path:
    base = {"montecarlo_trials": 3, "montecarlo_workers": 1, "plot_generation_workers": 1}
    base.update(overrides)
    return write_workspace(tmp_path / name, n_symbols=12, years=6.0, seed=3,
                           config_overrides=base)


def test_sync_run_writes_every_output(tmp_path: Path) -> None:
    cfg = load_config(workspace(tmp_path))
    res = daily_run(cfg, sync=True, send_email=False)
    assert res.exit_code == 0, res.problems
    root = cfg.webpage.parent
    for rel in DATA_FILES + MC_DATA_FILES + (
            "performance/PyTAAA_status.params", "performance/PyTAAA_diagnostic.params",
            "web/pyTAAAweb.html", "web/pyTAAAweb_symbolCharts_TodayRank.html",
            "web/pyTAAAweb_symbolCharts_MonthStartRank.html", "web/PyTAAA_value.png",
            "web/PyTAAA_monteCarloBacktest.png", "web/PyTAAA_monteCarloBacktestRecent.png"):
        assert (root / rel).stat().st_size > 0, rel
    symbols = [s for s in res.analysis.symbols if s != "CASH"]
    pngs = {p.name for p in cfg.webpage.glob("0_*.png")}
    assert pngs == {f"0_{s}.png" for s in symbols} | {f"0_recent_{s}.png" for s in symbols}
    lines = (root / DATA_FILES[0]).read_text().splitlines()
    assert len(lines) == len(res.analysis.dates)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d+\.\d\d \d+\.\d\d -?\d+\.\d -?\d+\.\d", lines[-1])
    up = (root / DATA_FILES[2]).read_text().splitlines()[-1]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d  \d+\.\d  \d+\.\d", up)
    status = (root / "performance/PyTAAA_status.params").read_text().splitlines()
    assert status[0] == "[Status]"
    assert re.fullmatch(r"cumu_value: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} \d+\.\d\d [01] \d+\.\d\d",
                        status[-1])
    ranks = (root / "performance/PyTAAA_ranks.params").read_text()
    assert ranks.startswith("[Ranks]\nlastdate: ")
    assert "pyTAAAweb_symbolCharts_TodayRank.html" in (cfg.webpage / "pyTAAAweb.html").read_text()
    # nothing half-written is left behind
    assert not list(root.rglob("*.tmp"))


def test_two_runs_give_identical_data_files(tmp_path: Path) -> None:
    outs = []
    for name in ("a", "b"):
        cfg = load_config(workspace(tmp_path, name))
        daily_run(cfg, sync=True, charts=False, send_email=False)
        outs.append({rel: (cfg.webpage.parent / rel).read_bytes()
                     for rel in DATA_FILES + MC_DATA_FILES})
    assert outs[0] == outs[1]


class _Inbox:
    def __init__(self) -> None:
        self.received: list[tuple[float, object]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802
        self.received.append((time.time(), envelope))
        return "250 OK"


@pytest.fixture()
def smtp():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = _Inbox()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port)
    ctl.start()
    yield inbox, port
    ctl.stop()


@pytest.mark.slow
def test_async_run_returns_before_jobs_finish_and_still_emails(tmp_path: Path, smtp) -> None:
    """Seed 000 REG and seed 001 REG-05/06: both jobs async; the run returns first, the
    email is sent and the status history updated before the Monte Carlo job is done."""
    inbox, port = smtp
    path = workspace(tmp_path, montecarlo_trials=40, async_plot_generation=True,
                     async_montecarlo_backtest=True,
                     Email={"From": "me@example.com", "To": "me@example.com",
                            "smtp_host": "127.0.0.1", "smtp_port": port, "starttls": False,
                            "enabled": True})
    cfg = load_config(path)
    res = daily_run(cfg)
    # what the jobs say the moment the run is back (finished_at has whole seconds only,
    # too coarse to order against the run's return)
    at_return = {k: read_status(cfg.webpage, k)["state"] for k in ("charts", "montecarlo")}
    mails_at_return = len(inbox.received)
    assert res.charts.mode == "async" and res.montecarlo.mode == "async"
    assert at_return["montecarlo"] in ("queued", "running"), at_return
    assert res.email is not None and res.email.status == "sent", res.email
    assert mails_at_return == 1  # sent by the run, so before the Monte Carlo job is done
    status_lines = (cfg.performance_store / "PyTAAA_status.params").read_text().splitlines()
    assert status_lines[-1].startswith("cumu_value: ")
    assert wait_for_jobs(cfg.webpage, timeout=300)
    charts, mc = read_status(cfg.webpage, "charts"), read_status(cfg.webpage, "montecarlo")
    assert charts["state"] == mc["state"] == "succeeded"
    (_sent_at, envelope), = inbox.received
    assert envelope.rcpt_tos == ["me@example.com"]
    assert (cfg.webpage / "PyTAAA_monteCarloBacktest.png").exists()


def _cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytaaa", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.mark.slow
def test_cli_run_and_demo(tmp_path: Path) -> None:
    path = workspace(tmp_path)
    res = _cli("run", "--json", str(path), "--sync", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "Web page:" in res.stdout
    for stage in ("analysis", "charts", "outputs", "web", "status"):
        assert re.search(rf"\] {stage}\s+\d+\.\d{{3}} s", res.stderr), stage
    demo = _cli("demo", "--dir", str(tmp_path / "demo"), "--symbols", "10", "--years", "5",
                cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    web = tmp_path / "demo" / "web"
    assert (web / "pyTAAAweb.html").exists() and (web / "PyTAAA_monteCarloBacktest.png").exists()
    assert len(list(web.glob("0_recent_*.png"))) == 10
    assert "charts job: succeeded" in demo.stderr and "montecarlo job: succeeded" in demo.stderr
    # the demo is idempotent: a second call reuses the workspace
    again = _cli("demo", "--dir", str(tmp_path / "demo"), "--no-wait", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    wait_for_jobs(web, timeout=300)


@pytest.mark.slow
def test_page_of_a_real_run_in_chromium(tmp_path: Path, chromium: str) -> None:
    """A real async run: the page loads with no JS error, shows the jobs and the pending
    Monte Carlo images, turns to finished without a reload, and then no image is missing."""
    from playwright.sync_api import sync_playwright

    cfg = load_config(workspace(tmp_path, montecarlo_trials=8, async_plot_generation=True,
                                async_montecarlo_backtest=True))
    res = daily_run(cfg, send_email=False)
    assert res.montecarlo.mode == "async"
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=args)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto((cfg.webpage / "pyTAAAweb.html").as_uri())
        page.evaluate("window.__sameDocument = 'yes'")
        mc = page.locator('[data-job-banner="montecarlo"] .job-text')
        assert "Monte Carlo" in mc.inner_text() and "not started" not in mc.inner_text()
        if not (cfg.webpage / "PyTAAA_monteCarloBacktest.png").exists():
            assert page.locator('.pending[data-job="montecarlo"]').count() == 2
        page.wait_for_function(
            "['charts', 'montecarlo'].every(k => document.querySelector("
            "`[data-job-banner=\"${k}\"]`).dataset.state === 'succeeded')", timeout=240_000)
        assert "finished" in mc.inner_text()
        page.wait_for_function("document.querySelectorAll('.pending').length === 0",
                               timeout=30_000)
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_function(
            "[...document.images].every(i => i.complete && i.naturalWidth > 0)", timeout=30_000)
        assert page.evaluate("window.__sameDocument") == "yes"
        assert errors == []
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "real_run_main_page.png"), full_page=True)
        browser.close()
    assert wait_for_jobs(cfg.webpage, timeout=60)


def test_missing_store_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    path = workspace(tmp_path)
    root = path.parent
    for f in (root / "data").glob("*.hdf5"):
        f.unlink()
    shutil.rmtree(root / "web")
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    res = _cli("run", "--json", str(path), cwd=tmp_path, timeout=120)
    assert res.returncode == 2
    assert "Naz100_Symbols_.hdf5" in res.stderr and "pytaaa data synth" in res.stderr
    assert "Traceback" not in res.stderr
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


# ---- real-world quotes in the daily run (data-quality.md sections 3-5) ---------------
def _store_with(cfg_path: Path, edit) -> None:
    from pytaaa.data.store import read_store, store_location, write_store
    from pytaaa.model import Quotes

    cfg = load_config(cfg_path)
    q = read_store(cfg.valuation.symbols_file)
    dates, symbols, close = edit(q.dates, list(q.symbols), q.close.copy())
    path, key = store_location(cfg.valuation.symbols_file)
    write_store(path, key, Quotes(dates=dates, symbols=tuple(symbols), close=close))


def test_empty_last_day_is_reported_and_keeps_the_picks(workspace_copy: Path) -> None:
    """Before: a phantom last row without quotes made the run say `picks: CASH 100%`,
    suggest selling everything, exit 0 and warn nothing."""
    import json

    import numpy as np

    cfg = load_config(workspace_copy)
    before = daily_run(cfg, charts=False, montecarlo=False, send_email=False)

    def add_empty_day(dates, symbols, close):
        nxt = dates[-1] + np.timedelta64(3 if dates[-1].astype("datetime64[D]").item().weekday()
                                         == 4 else 1, "D")
        col = np.full((close.shape[0], 1), np.nan)
        col[[i for i, s in enumerate(symbols) if s == "CASH"]] = 1.0
        return np.append(dates, nxt), symbols, np.hstack([close, col])

    _store_with(workspace_copy, add_empty_day)
    res = daily_run(cfg, charts=False, montecarlo=False, send_email=False)
    assert len(res.analysis.picks) == len(before.analysis.picks)
    assert not any(p.symbol == "CASH" and p.weight == 1.0 for p in res.analysis.picks)
    assert all(not p.quoted for p in res.analysis.picks)
    # nothing is quoted today: no sale because of missing quotes, nothing bought blind
    assert res.plan is not None and res.plan.trades == ()
    kinds = [f.kind for f in res.data_quality.findings]
    assert "empty last day" in kinds
    assert "no symbol has a quote for" in res.summary()
    page = (cfg.webpage / "pyTAAAweb.html").read_text()
    assert 'id="data-quality"' in page and "empty last day" in page
    summary = json.loads((cfg.webpage / "run_summary.json").read_text())
    assert "empty last day" in [f["kind"] for f in summary["data_quality"]["findings"]]
    for key in ("performance", "holdings", "trade_plan", "jobs"):
        assert key in summary


def test_partial_update_lists_the_symbols_without_a_quote(workspace_copy: Path) -> None:
    cfg = load_config(workspace_copy)

    def drop_two(dates, symbols, close):
        live = [i for i, s in enumerate(symbols) if s != "CASH" and np.isfinite(close[i, -2])]
        close[live[:2], -1] = np.nan
        return dates, symbols, close

    import numpy as np

    _store_with(workspace_copy, drop_two)
    res = daily_run(cfg, charts=False, montecarlo=False, send_email=False)
    f = next(f for f in res.data_quality.findings if f.kind == "partial update")
    assert f.size == 2 and "2 of " in f.detail and "have no quote for" in f.detail


def test_chart_name_collision_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    """Before: `A/B` and `A_B` overwrote each other's charts (sync) or the charts job
    drew nothing (async)."""
    from pytaaa.pipeline import RunError

    cfg_path = workspace(tmp_path)

    def rename(dates, symbols, close):
        symbols[0], symbols[1] = "AB/C", "AB_C"
        return dates, symbols, close

    _store_with(cfg_path, rename)
    cfg = load_config(cfg_path)
    with pytest.raises(RunError, match=r"'AB/C' and 'AB_C' would share one chart file") as err:
        daily_run(cfg, sync=True, send_email=False)
    assert err.value.exit_code == 2
    assert not (cfg.webpage / "pyTAAAweb.html").exists()
    assert not (cfg.performance_store / "PyTAAA_ranks.params").exists()


def test_page_shows_the_performance_table(workspace_copy: Path) -> None:
    cfg = load_config(workspace_copy)
    daily_run(cfg, charts=False, montecarlo=False, send_email=False)
    page = (cfg.webpage / "pyTAAAweb.html").read_text()
    table = page[page.index('id="performance-table"'):]
    table = table[:table.index("</table>")]
    for text in ("Whole history", "1 year", "6 months", "1 month", "Max DD", "Volatility"):
        assert text in table
    row = table[table.index("1 month"):]
    row = row[:row.index("</tr>")]
    assert row.count("–") >= 2   # no CAGR for a month (before: "1 Mo CAGR -77.6 %")
