"""The "Model switching" section of a real switching account's page, in headless Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from _models_data import make_switching_workspace
from playwright.sync_api import sync_playwright

from pytaaa.config import load_config
from pytaaa.pipeline import daily_run
from pytaaa.site.switching import switching_context

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def account(tmp_path: Path, synth_workspace: Path, workspace_copy: Path):
    cfg = load_config(make_switching_workspace(tmp_path, synth_workspace, workspace_copy))
    return daily_run(cfg, charts=False, montecarlo=False, send_email=False)


def test_section_context(account) -> None:
    ctx = switching_context(account.switching, account.config.webpage)
    assert ctx["recommended"] == "beta" and ctx["followed"] == "alpha" and ctx["mismatch"]
    assert [r["name"] for r in ctx["rows"]][0] == "beta"
    assert ctx["chart"].exists and "?v=" in ctx["chart"].url
    assert len(ctx["switches"]) <= 12 and ctx["switches"] == sorted(
        ctx["switches"], key=lambda s: s["date"], reverse=True)
    cells = ctx["rows"][0]["cells"][20]
    assert len(cells) == 5 and cells[0][0].endswith("%")


@pytest.mark.slow
def test_switching_page_in_chromium(account, chromium: str) -> None:
    page_path = account.config.webpage / "pyTAAAweb.html"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(page_path.as_uri())
        section = page.locator("#model-switching")
        assert section.is_visible()
        assert page.locator("#switching-recommended").inner_text() == "beta"
        assert page.locator("#switching-followed").inner_text() == "alpha"
        assert "differs from the model you follow" in page.locator(
            "#switching-mismatch").inner_text()
        rows = page.locator("#switching-table tr")
        assert rows.count() == 4                     # header + alpha, beta, cash
        assert page.locator("#switch-history-table tr").count() >= 2
        img = page.locator('img[src^="recommendation_plot.png"]')
        img.scroll_into_view_if_needed()
        page.wait_for_function(
            "[...document.images].filter(i => i.src.includes('recommendation_plot'))"
            ".every(i => i.complete && i.naturalWidth > 1000)", timeout=15_000)
        # the section comes before the holdings
        assert page.evaluate("document.querySelector('#model-switching').compareDocumentPosition("
                             "document.querySelector('#holdings')) & 4") == 4
        assert errors == []
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "switching_account_page.png"), full_page=True)
        browser.close()
