"""The web site: pages rendered from a small hand-made Analysis (no browser here)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from _site_data import (
    NOW,
    hold_job_lock,
    make_analysis,
    make_config,
    site_inputs,
    write_job_status,
)

import pytaaa
from pytaaa.account.ledger import StatusEntry, StatusHistory
from pytaaa.model import Analysis, Prices
from pytaaa.site.context import job_banner_text, symbol_anchor
from pytaaa.site.pages import write_site


class _Collector(HTMLParser):
    """Collects element ids, image sources, pending boxes and links; checks nesting."""

    VOID = {"meta", "link", "img", "br", "hr", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.imgs: list[str] = []
        self.pending: list[str] = []
        self.links: list[str] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "img":
            self.imgs.append(a["src"])
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        if "pending" in (a.get("class") or "").split():
            self.pending.append(a["data-src"])
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):  # noqa: ANN001
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1:]}>"
        self.stack.pop()


def parse(path: Path) -> _Collector:
    c = _Collector()
    c.feed(path.read_text(encoding="utf-8"))
    c.close()
    assert c.stack == [], f"unclosed tags {c.stack}"
    return c


@pytest.fixture()
def site(tmp_path: Path) -> tuple:
    cfg = make_config(tmp_path)
    analysis = make_analysis()
    return cfg, analysis, site_inputs(analysis)


def test_main_page_sections_in_order_and_content(site) -> None:
    cfg, analysis, kw = site
    written = write_site(cfg, analysis, **kw)
    page = cfg.webpage / "pyTAAAweb.html"
    assert page in written
    html = page.read_text()
    # web.md section 1 order: title/market, banner, holdings, ranking, charts, index changes, footer
    marks = ['id="market"', 'id="jobs"', 'id="holdings"', 'id="ranking"', 'id="charts"',
             'id="index-changes"', 'id="footer"']
    positions = [html.index(m) for m in marks]
    assert positions == sorted(positions)
    assert "NYSE closed for the day" in html and "2024-03-28 17:45:00" in html
    assert "Charts: not started" in html and "Monte Carlo: not started" in html
    # holdings valued at today's closes: CASH 1000 + 10 AAA + 20 BBB
    p = kw["portfolio"]
    close = analysis.prices.close[:, -1]
    assert p.total == pytest.approx(1000 + 10 * close[0] + 20 * close[1])
    assert f"${p.total:,.2f}" in html
    assert "Alpha &amp; Co" in html  # escaped
    # trades: sell BBB (not picked); buy BRK/B
    assert re.search(r">SELL</td><td class=\"l\">BBB<", html)
    assert re.search(r">BUY</td><td class=\"l\">BRK/B<", html)
    # ranking links to both chart pages with a URL-safe anchor
    anchor = symbol_anchor("BRK/B")
    assert anchor == "sym-BRK_2f_B"
    assert f'href="pyTAAAweb_symbolCharts_TodayRank.html#{anchor}"' in html
    assert f'href="pyTAAAweb_symbolCharts_MonthStartRank.html#{anchor}"' in html
    # footer: universe, method, parameters, version, per-stage times incl. the extra one
    footer = html[html.index('id="footer"'):]
    for text in ("Naz100", "SMAs", "LongPeriod", f"pytaaa {pytaaa.__version__}",
                 ">load<", ">signals<", ">web<", "2.25 s"):
        assert text in footer
    c = parse(page)
    assert len(c.ids) == len(set(c.ids))
    assert not any(link.startswith(("http:", "https:", "//")) for link in c.links)
    assert "cdn" not in html.lower()


def test_missing_images_are_pending_and_existing_ones_versioned(site) -> None:
    cfg, analysis, kw = site
    web = cfg.webpage
    (web / "PyTAAA_value.png").write_bytes(b"\x89PNG fake")
    write_site(cfg, analysis, **kw)
    c = parse(web / "pyTAAAweb.html")
    mtime = (web / "PyTAAA_value.png").stat().st_mtime_ns // 1000
    assert f"PyTAAA_value.png?v={mtime}" in c.imgs
    assert "PyTAAA_monteCarloBacktest.png" in c.pending
    assert "PyTAAA_monteCarloBacktestRecent.png" in c.pending
    assert "PyTAAA_numberUptrendingStocks.png" in c.pending  # not drawn (draw_charts=False)
    # once the Monte Carlo PNGs exist they are images with a version
    for name in ("PyTAAA_monteCarloBacktest.png", "PyTAAA_monteCarloBacktestRecent.png"):
        (web / name).write_bytes(b"\x89PNG fake")
    write_site(cfg, analysis, **kw)
    c = parse(web / "pyTAAAweb.html")
    assert any(s.startswith("PyTAAA_monteCarloBacktest.png?v=") for s in c.imgs)
    assert "PyTAAA_monteCarloBacktest.png" not in c.pending


class _ChartLinks(HTMLParser):
    """(link target, image file) of every main-page chart (img or pending box)."""

    def __init__(self) -> None:
        super().__init__()
        self.href: str | None = None
        self.charts: list[tuple[str | None, str]] = []

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        a = dict(attrs)
        if tag == "a":
            self.href = a.get("href")
        if "chart" in (a.get("class") or "").split():
            self.charts.append((self.href, a["data-src"]))

    def handle_endtag(self, tag):  # noqa: ANN001
        if tag == "a":
            self.href = None


def test_every_main_page_chart_links_to_its_full_size_file(site) -> None:
    cfg, analysis, kw = site
    web = cfg.webpage
    (web / "PyTAAA_value.png").write_bytes(b"\x89PNG fake")
    write_site(cfg, analysis, **kw)
    links = _ChartLinks()
    links.feed((web / "pyTAAAweb.html").read_text(encoding="utf-8"))
    assert len(links.charts) == 6  # four site charts and two Monte Carlo charts
    assert all(href == src for href, src in links.charts), links.charts
    assert ("PyTAAA_value.png", "PyTAAA_value.png") in links.charts


def test_chart_pages_reference_symbol_pngs_in_rank_order(site) -> None:
    cfg, analysis, kw = site
    web = cfg.webpage
    (web / "0_recent_AAA.png").write_bytes(b"png")
    write_site(cfg, analysis, **kw)
    today = web / "pyTAAAweb_symbolCharts_TodayRank.html"
    month = web / "pyTAAAweb_symbolCharts_MonthStartRank.html"
    ct, cm = parse(today), parse(month)
    # order: today's rank AAA(1) BRK/B(2) BBB(3) ZZZ(4); month start BRK/B, AAA, ZZZ, BBB
    assert [i for i in ct.ids if i.startswith("sym-")] == [
        "sym-AAA", "sym-BRK_2f_B", "sym-BBB", "sym-ZZZ"]
    assert [i for i in cm.ids if i.startswith("sym-")] == [
        "sym-BRK_2f_B", "sym-AAA", "sym-ZZZ", "sym-BBB"]
    # every symbol (CASH excluded) links its full chart; the file name is URL-encoded
    assert [h for h in ct.links if h.startswith("0_")] == [
        "0_AAA.png", "0_BRK_B.png", "0_BBB.png", "0_ZZZ.png"]
    assert any(s.startswith("0_recent_AAA.png?v=") for s in ct.imgs)
    assert ct.pending == ["0_recent_BRK_B.png", "0_recent_BBB.png", "0_recent_ZZZ.png"]
    html = today.read_text()
    assert 'data-job-banner="charts"' in html and 'data-job-banner="montecarlo"' not in html


def test_symbol_with_url_unsafe_characters_is_encoded(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    analysis = make_analysis()
    kw = site_inputs(analysis)
    # a symbol whose safe file name still needs URL-encoding
    weird = analysis.prices.symbols[:3] + ("^GSPC",) + ("CASH",)
    analysis = Analysis(**{**analysis.__dict__, "prices": Prices(**{
        **analysis.prices.__dict__, "symbols": weird})})
    write_site(cfg, analysis, **kw)
    c = parse(cfg.webpage / "pyTAAAweb_symbolCharts_TodayRank.html")
    assert "0_%5EGSPC.png" in c.links
    assert "0_recent_%5EGSPC.png" in c.pending


def test_a_nul_byte_in_a_ticker_never_reaches_the_html_raw(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    analysis = make_analysis()
    kw = site_inputs(analysis)
    weird = analysis.prices.symbols[:3] + ("BAD\x00<b>",) + ("CASH",)
    analysis = Analysis(**{**analysis.__dict__, "prices": Prices(**{
        **analysis.prices.__dict__, "symbols": weird})})
    write_site(cfg, analysis, **kw)
    for page in cfg.webpage.glob("*.html"):
        data = page.read_bytes()
        assert b"\x00" not in data and b"BAD\x00" not in data, page.name
    html = (cfg.webpage / "pyTAAAweb_symbolCharts_TodayRank.html").read_text()
    assert "BAD\ufffd&lt;b&gt;" in html


def test_job_banner_reads_status_files(site) -> None:
    import os

    cfg, analysis, kw = site
    write_job_status(cfg.webpage, "charts", done=137, total=200)
    write_job_status(cfg.webpage, "montecarlo", state="failed", failed=3,
                     finished_at="2024-03-28T14:03:10",  # a job records its log's full path
                     log=str(cfg.webpage.resolve() / "montecarlo_backtest.log"))
    (cfg.webpage / "montecarlo_backtest.log").write_text("[14:03:10] failed\n")
    fd = hold_job_lock(cfg.webpage, "charts")
    try:
        write_site(cfg, analysis, **kw)
    finally:
        os.close(fd)
    html = (cfg.webpage / "pyTAAAweb.html").read_text()
    assert "Charts: 137 of 200 drawn" in html
    assert "Monte Carlo: failed: 3 trials — see montecarlo_backtest.log" in html
    assert '<a class="job-log" href="montecarlo_backtest.log">log</a>' in html  # by its name
    cfg_js = re.search(r"window.PYTAAA_PAGE = (.*?);</script>", html).group(1)
    page_cfg = json.loads(cfg_js)
    assert page_cfg["finished"] == {"charts": None, "montecarlo": "2024-03-28T14:03:10"}
    assert page_cfg["kinds"] == ["charts", "montecarlo"]
    # the same "running" status without its job holding the lock: the job died
    write_site(cfg, analysis, **kw)
    html = (cfg.webpage / "pyTAAAweb.html").read_text()
    assert "Charts: stopped unexpectedly — see plot_generation.log" in html
    # an on-demand job (the parameter search) appears once it has run for the site
    write_job_status(cfg.webpage, "optimize", state="succeeded", done=250, total=250,
                     finished_at="2024-03-28T15:00:00")
    write_site(cfg, analysis, **kw)
    html = (cfg.webpage / "pyTAAAweb.html").read_text()
    assert "Parameter search: finished 15:00 — 250 trials" in html
    # the search's chart appears, saying which figures are in-sample
    (cfg.webpage / "model_a_optimize.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    write_site(cfg, analysis, **kw)
    html = (cfg.webpage / "pyTAAAweb.html").read_text()
    assert 'src="model_a_optimize.png?v=' in html
    assert "Parameter search (model_a): top, every trial over the whole history (in-sample" in html


@pytest.mark.parametrize(("kind", "status", "text"), [
    ("charts", None, "Charts: not started"),
    ("charts", {"state": "queued"}, "Charts: queued"),
    ("charts", {"state": "running", "done": 137, "total": 200}, "Charts: 137 of 200 drawn"),
    ("charts", {"state": "running", "done": 5, "total": 9, "skipped": 2, "failed": 1},
     "Charts: 5 of 9 drawn (2 fresh, 1 failed)"),
    ("charts", {"state": "succeeded", "done": 200, "created": 150, "skipped": 50,
                "finished_at": "2024-03-28T14:03:59+01:00"},
     "Charts: finished 14:03 — 150 drawn, 50 fresh"),
    ("montecarlo", {"state": "running", "done": 9, "total": 25}, "Monte Carlo: 9 of 25 trials"),
    ("charts", {"state": "succeeded", "done": 200, "finished_at": "2024-03-28T14:03:59"},
     "Charts: finished 14:03 — 200 drawn"),
    ("charts", {"state": "failed", "failed": 3, "log": "plot_generation.log"},
     "Charts: failed: 3 charts — see plot_generation.log"),
    ("montecarlo", {"state": "died"},
     "Monte Carlo: stopped unexpectedly — see montecarlo_backtest.log"),
    ("charts", {"state": "cancelled", "updated_at": "2024-03-28T09:15:00"},
     "Charts: cancelled 09:15"),
    ("optimize", {"state": "running", "done": 40, "total": 250},
     "Parameter search: 40 of 250 trials"),
    ("optimize", {"state": "succeeded", "done": 250, "finished_at": "2024-03-28T14:03:59"},
     "Parameter search: finished 14:03 — 250 trials"),
    ("optimize", {"state": "failed", "failed": 2}, "Parameter search: failed: 2 trials — see optimize.log"),
    ("lookback_search", {"state": "running", "done": 5000, "total": 50000},
     "Lookback search: 5000 of 50000 iterations"),
])
def test_banner_texts(kind: str, status: dict | None, text: str) -> None:
    assert job_banner_text(kind, status) == text


def test_site_is_deterministic_and_atomic(site) -> None:
    cfg, analysis, kw = site
    write_site(cfg, analysis, **kw)
    first = {p.name: p.read_bytes() for p in cfg.webpage.iterdir() if p.is_file()}
    write_site(cfg, analysis, **kw)
    second = {p.name: p.read_bytes() for p in cfg.webpage.iterdir() if p.is_file()}
    assert first == second
    assert not [n for n in second if n.endswith(".tmp")]
    assert {"pytaaa_site.css", "pytaaa_site.js"} <= set(second)


def test_site_without_holdings(site) -> None:
    cfg, analysis, kw = site
    kw = {**kw, "portfolio": None, "plan": None, "market": None}
    write_site(cfg, analysis, **kw)
    html = (cfg.webpage / "pyTAAAweb.html").read_text()
    assert "No holdings file" in html
    assert "Market status unavailable" in html
    assert 'id="ranking-table"' in html


def test_write_site_reports_unwritable_folder(site) -> None:
    cfg, analysis, kw = site
    cfg.webpage.rmdir()
    cfg.webpage.write_text("a file in the way")
    with pytest.raises(OSError):
        write_site(cfg, analysis, **kw)


# --------------------------------------------------------------------------- pytaaa serve
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, b""


def test_serve_command_serves_site_and_hides_private_files(site) -> None:
    import signal
    import subprocess
    import sys
    import time
    import urllib.error

    cfg, analysis, kw = site
    write_site(cfg, analysis, **kw)
    write_job_status(cfg.webpage, "charts")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytaaa", "serve", "--json", str(cfg.path), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = _get(base + "pyTAAAweb.html")
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        assert status == 200 and b"PyTAAA" in body
        assert _get(base + "pytaaa_job_charts.js")[0] == 200
        assert _get(base + ".pytaaa/charts.json")[0] == 404
        assert _get(base + "%2Epytaaa/charts.json")[0] == 404
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    assert f"http://127.0.0.1:{port}/pyTAAAweb.html" in err and "stopped" in err


def test_serve_command_errors(tmp_path: Path) -> None:
    import subprocess
    import sys

    cfg = make_config(tmp_path)
    cfg.webpage.rmdir()
    res = subprocess.run([sys.executable, "-m", "pytaaa", "serve", "--json", str(cfg.path)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert f"web site folder not found: {cfg.webpage}" in res.stderr
    assert "Traceback" not in res.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    res = subprocess.run([sys.executable, "-m", "pytaaa", "serve", "--json", str(bad)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "malformed JSON" in res.stderr


def test_write_site_draws_the_four_site_charts(site) -> None:
    cfg, analysis, kw = site
    kw = {**kw, "draw_charts": True}
    # an aware entry (this run's) next to naive ones read from the file
    history = kw["status_history"].with_entry(StatusEntry(NOW, 3990.0, 1, 3990.0))
    written = write_site(cfg, analysis, **{**kw, "status_history": history})
    names = {p.name for p in written}
    for name in ("PyTAAA_value.png", "PyTAAA_numberUptrendingStocks.png",
                 "PyTAAA_backtestWithTrend.png", "PyTAAA_newHighs_newLows_count.png"):
        assert name in names
        assert (cfg.webpage / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    c = parse(cfg.webpage / "pyTAAAweb.html")
    assert c.pending == ["PyTAAA_monteCarloBacktest.png", "PyTAAA_monteCarloBacktestRecent.png"]
    # without a status history the value chart is left out, the rest is drawn
    (cfg.webpage / "PyTAAA_value.png").unlink()
    written = write_site(cfg, analysis, **{**kw, "status_history": StatusHistory()})
    assert "PyTAAA_value.png" not in {p.name for p in written}
    assert "PyTAAA_value.png" in parse(cfg.webpage / "pyTAAAweb.html").pending
