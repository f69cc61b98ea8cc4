"""The browser tests' Chromium check (the ``chromium`` fixture of conftest.py): without
Chromium they fail, in one line that says what to install, and never start Playwright."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import CHROMIUM_MISSING

ROOT = Path(__file__).resolve().parents[1]


def test_missing_chromium_fails_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "PYTAAA_CHROMIUM": str(tmp_path / "no-chromium")}
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-k", "thumbnails",
         "tests/site/test_browser.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    out = res.stdout + res.stderr
    assert res.returncode == 1, out  # failed: not skipped, not passed
    assert "1 error" in out and "skipped" not in out
    assert f"\n{CHROMIUM_MISSING}\n" in out  # the error is this one line
    assert "Traceback" not in out and "playwright" not in out.lower().replace(
        "test_browser", "")
