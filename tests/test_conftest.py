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


def test_a_test_process_stuck_at_exit_ends_with_the_sessions_status(tmp_path: Path) -> None:
    """CI once timed out after "660 passed": the test process never exited.  The exit
    guard prints the stuck threads and exits with the tests' own status."""
    (tmp_path / "test_stuck.py").write_text(
        "import threading, time\n"
        "def test_leaves_a_thread_that_never_ends():\n"
        "    threading.Thread(target=time.sleep, args=(3600,), name='stuck-forever').start()\n"
        "def test_fails_or_not():\n"
        "    import os\n"
        "    assert os.environ.get('FAIL_ONE') != '1'\n")
    for fail, code in (("0", 0), ("1", 1)):
        env = {**os.environ, "PYTAAA_TEST_EXIT_GRACE": "2", "FAIL_ONE": fail,
               "PYTHONPATH": str(ROOT / "tests")}
        res = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "conftest", "-q",
             str(tmp_path / "test_stuck.py")],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert res.returncode == code, res.stdout + res.stderr
        assert "has not exited 2 s after the session" in res.stderr
        assert "'stuck-forever'" in res.stderr and "in _shutdown" in res.stderr
