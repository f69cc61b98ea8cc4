"""The web site as a person sees it: headless Chromium on file:// pages.

The page is rendered from the small hand-made analysis of ``_site_data``; the
background jobs are played by writing their status files (.json + .js) and
PNGs from the test while the page stays open, except for the log link, which a
real failing charts job provides.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from _site_data import (
    hold_job_lock,
    make_analysis,
    make_config,
    site_inputs,
    write_job_status,
)
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from playwright.sync_api import sync_playwright

from pytaaa.charts.worker import FAULTS_ENV
from pytaaa.config import load_config
from pytaaa.data.store import read_symbols_file
from pytaaa.data.synth import write_workspace
from pytaaa.jobs.status import read_status
from pytaaa.pipeline import daily_run, wait_for_jobs
from pytaaa.site.pages import write_site

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
WAIT_MS = 15000  # the page polls every 3 s


def draw_png(path: Path, title: str, size: tuple[float, float] = (6, 3.4)) -> None:
    """A small real PNG with a title, written atomically (temporary name + rename)."""
    fig = Figure(figsize=size, dpi=60)
    ax = fig.add_subplot()
    ax.plot([0, 1, 2, 3], [1, 3, 2, 4])
    ax.set_title(title)
    tmp = path.with_name(f".{path.name}.tmp")
    FigureCanvasAgg(fig).print_png(str(tmp))
    os.replace(tmp, path)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass


@pytest.fixture(scope="module")
def browser(chromium: str):
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_page(browser, path: Path):
    """Open ``path``; returns the page and the lists of JS errors and console errors."""
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    js_errors: list[str] = []
    console_errors: list[str] = []
    page.on("pageerror", lambda exc: js_errors.append(str(exc)))
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.goto(path.as_uri())
    page.evaluate("window.__sameDocument = 'yes'")
    return page, js_errors, console_errors


def only_missing_files(console_errors: list[str]) -> bool:
    """True when every console error is a missing file (the pending-image probes)."""
    return all("ERR_FILE_NOT_FOUND" in e or "Failed to load resource" in e
               for e in console_errors)


@pytest.mark.slow
def test_main_page_banner_and_monte_carlo_images_update_live(browser, tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    web = cfg.webpage
    analysis = make_analysis()
    for name in ("PyTAAA_value.png", "PyTAAA_numberUptrendingStocks.png",
                 "PyTAAA_backtestWithTrend.png", "PyTAAA_newHighs_newLows_count.png"):
        draw_png(web / name, name)
    write_job_status(web, "montecarlo", state="running", done=3, total=10,
                     log="montecarlo_backtest.log")
    fd = hold_job_lock(web, "montecarlo")  # a running job holds its lock
    try:
        write_site(cfg, analysis, **site_inputs(analysis))
    finally:
        os.close(fd)

    page, js_errors, console_errors = open_page(browser, web / "pyTAAAweb.html")
    mc = page.locator('[data-job-banner="montecarlo"] .job-text')
    charts = page.locator('[data-job-banner="charts"] .job-text')
    page.wait_for_function(
        "document.querySelector('[data-job-banner=\"charts\"]').dataset.state === 'absent'",
        timeout=WAIT_MS)
    assert mc.inner_text() == "Monte Carlo: 3 of 10 trials"
    assert charts.inner_text() == "Charts: not started"
    pending = page.locator('.pending[data-job="montecarlo"]')
    assert pending.count() == 2
    assert "pending" in pending.first.inner_text()
    # no broken image anywhere: every <img> has loaded pixels
    broken = page.evaluate(
        "[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length")
    assert broken == 0
    assert page.locator("img.chart").count() == 4
    assert page.locator("a.full-size > img.chart").count() == 4  # each opens full size
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#charts").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "web_main_page_pending.png"))

    # the job finishes: PNGs first, then the status
    draw_png(web / "PyTAAA_monteCarloBacktest.png", "Monte Carlo")
    draw_png(web / "PyTAAA_monteCarloBacktestRecent.png", "Monte Carlo recent")
    write_job_status(web, "montecarlo", state="succeeded", done=10, total=10,
                     finished_at="2024-03-28T18:02:41", log="montecarlo_backtest.log")
    page.wait_for_function(
        "document.querySelectorAll('img[data-job=\"montecarlo\"]').length === 2 && "
        "[...document.querySelectorAll('img[data-job=\"montecarlo\"]')]"
        ".every(i => i.complete && i.naturalWidth > 0)", timeout=WAIT_MS)
    assert mc.inner_text() == "Monte Carlo: finished 18:02 — 10 trials"
    assert page.locator(".pending").count() == 0
    assert page.evaluate("window.__sameDocument") == "yes"  # no reload happened
    srcs = page.evaluate(
        "[...document.querySelectorAll('img[data-job=\"montecarlo\"]')].map(i => i.src)")
    assert all("PyTAAA_monteCarloBacktest" in s and "?v=" in s for s in srcs)
    big = page.locator('a.full-size[href="PyTAAA_monteCarloBacktest.png"] > img.chart')
    assert big.count() == 1  # the swapped-in image keeps its full-size link
    assert js_errors == []
    assert only_missing_files(console_errors), console_errors

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web_main_page.png"), full_page=True)
    # readable on a phone: nothing wider than the screen except inside scroll boxes
    page.set_viewport_size({"width": 390, "height": 844})
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    page.screenshot(path=str(ARTIFACTS / "web_main_page_phone.png"))
    page.close()


@pytest.mark.slow
def test_chart_page_thumbnails_appear_while_charts_job_runs(browser, tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    web = cfg.webpage
    analysis = make_analysis()
    write_job_status(web, "charts", state="running", done=0, total=8)
    fd = hold_job_lock(web, "charts")
    try:
        write_site(cfg, analysis, **site_inputs(analysis))
    finally:
        os.close(fd)

    page, js_errors, console_errors = open_page(
        browser, web / "pyTAAAweb_symbolCharts_TodayRank.html")
    banner = page.locator('[data-job-banner="charts"] .job-text')
    assert banner.inner_text() == "Charts: 0 of 8 drawn"
    assert page.locator('.pending[data-job="charts"]').count() == 4

    # the job draws AAA (top of the page) and reports progress
    draw_png(web / "0_recent_AAA.png", "AAA recent", (9, 5))
    draw_png(web / "0_AAA.png", "AAA", (9, 5))
    write_job_status(web, "charts", state="running", done=2, total=8)
    page.wait_for_function(
        "(() => { const i = document.querySelector('#sym-AAA img');"
        " return !!i && i.complete && i.naturalWidth > 0; })()", timeout=WAIT_MS)
    assert banner.inner_text() == "Charts: 2 of 8 drawn"
    assert page.locator('.pending[data-job="charts"]').count() == 3
    link = page.locator("#sym-AAA a").get_attribute("href")
    assert link == "0_AAA.png"

    # it finishes: the rest appear, the banner says so, all without a reload
    for sym, safe in (("BRK/B", "BRK_B"), ("BBB", "BBB"), ("ZZZ", "ZZZ")):
        draw_png(web / f"0_recent_{safe}.png", f"{sym} recent", (9, 5))
    write_job_status(web, "charts", state="succeeded", done=8, total=8,
                     finished_at="2024-03-28T18:10:05")
    page.wait_for_function(
        "document.querySelectorAll('.pending').length === 0", timeout=WAIT_MS)
    assert banner.inner_text() == "Charts: finished 18:10 — 8 drawn"
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_function(
        "[...document.images].every(i => i.complete && i.naturalWidth > 0)", timeout=WAIT_MS)
    assert page.evaluate("window.__sameDocument") == "yes"
    assert js_errors == []
    assert only_missing_files(console_errors), console_errors
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web_chart_page.png"), full_page=True)
    page.close()


@pytest.mark.slow
def test_failed_job_and_log_link(browser, tmp_path: Path, monkeypatch) -> None:
    """A real charts job that fails on one symbol: its banner links the log by its
    name in the web folder, and the link opens the log from file:// and over HTTP."""
    cfg = load_config(write_workspace(
        tmp_path / "ws", n_symbols=6, years=3.0, seed=5,
        config_overrides={"async_plot_generation": True, "plot_generation_workers": 1}))
    web = cfg.webpage
    bad = read_symbols_file(cfg.symbols_file)[0]
    monkeypatch.setenv(FAULTS_ENV, f"raise:{bad}/recent")  # the detached job inherits it
    res = daily_run(cfg, send_email=False, montecarlo=False)
    assert res.charts.mode == "async"
    wait_for_jobs(web, timeout=120, kinds=("charts",))
    status = read_status(web, "charts")
    assert status["state"] == "failed" and Path(status["log"]).is_absolute()

    # the page was written while the job ran; its script turns the banner to "failed"
    page, js_errors, _console = open_page(browser, web / "pyTAAAweb.html")
    page.wait_for_function(
        "document.querySelector('[data-job-banner=\"charts\"]').dataset.state === 'failed'",
        timeout=WAIT_MS)
    banner = page.locator('[data-job-banner="charts"] .job-text')
    assert banner.inner_text() == "Charts: failed: 1 charts — see plot_generation.log"
    log_link = page.locator('[data-job-banner="charts"] .job-log')
    assert log_link.is_visible() and log_link.get_attribute("href") == "plot_generation.log"
    with page.expect_navigation():
        log_link.click()
    assert f"{bad} (recent)" in page.inner_text("body")
    assert page.url == (web / "plot_generation.log").as_uri()
    page.close()

    # the same page over HTTP (any static server of the web folder)
    handler = functools.partial(_QuietHandler, directory=str(web))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        http = browser.new_page()
        http.goto(f"http://127.0.0.1:{server.server_port}/pyTAAAweb.html")
        href = http.eval_on_selector('[data-job-banner="charts"] .job-log', "a => a.href")
        assert href == f"http://127.0.0.1:{server.server_port}/plot_generation.log"
        got = http.request.get(href)
        assert got.status == 200 and f"{bad} (recent)" in got.text()
        http.close()
    finally:
        server.shutdown()
        server.server_close()
    assert js_errors == []


@pytest.mark.slow
def test_stalled_job_and_banner_texts(browser, tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    web = cfg.webpage
    analysis = make_analysis()
    # a "running" job that stopped reporting long ago (heartbeat overdue, lock free)
    write_job_status(web, "montecarlo", state="running", done=4, total=25,
                     updated_at="2024-03-28T17:41:00", heartbeat_seconds=5)
    write_job_status(web, "charts", state="failed", done=7, failed=1, total=8,
                     finished_at="2024-03-28T18:00:00",
                     errors=[{"item": "ZZZ", "message": "boom"}])
    write_site(cfg, analysis, **site_inputs(analysis))
    html = (web / "pyTAAAweb.html").read_text()
    assert "Monte Carlo: stopped unexpectedly — see montecarlo_backtest.log" in html
    page, js_errors, _console = open_page(browser, web / "pyTAAAweb.html")
    mc = page.locator('[data-job-banner="montecarlo"] .job-text')
    page.wait_for_function(
        "document.querySelector('[data-job-banner=\"montecarlo\"] .job-text')"
        ".textContent.includes('no update')", timeout=WAIT_MS)
    # the page cannot see processes, but flags the overdue heartbeat
    assert mc.inner_text() == ("Monte Carlo: 4 of 25 trials — no update since 17:41, "
                               "stopped? see montecarlo_backtest.log")
    # the page's script builds the same texts as the Python side
    same = page.evaluate("""() => [
        window.PYTAAA_bannerText('charts', {state: 'running', done: 137, total: 200}),
        window.PYTAAA_bannerText('montecarlo', {state: 'running', done: 9, total: 25}),
        window.PYTAAA_bannerText('charts', null)]""")
    assert same == ["Charts: 137 of 200 drawn", "Monte Carlo: 9 of 25 trials",
                    "Charts: not started"]
    assert json.loads(page.evaluate("JSON.stringify(window.PYTAAA_JOBS.charts.errors)")) == [
        {"item": "ZZZ", "message": "boom"}]
    assert js_errors == []
    page.close()
