"""Shared fixtures.

- ``synth_quotes_small``: synthetic Quotes, 20 symbols (+ CASH) x 8 years, seed 0.
- ``synth_workspace``: a complete workspace built once per session from the
  same data; returns its config path.  Treat it as read-only.
- ``workspace_copy``: a private copy of ``synth_workspace`` for a test that
  writes (a daily run, a job); returns the copy's config path.
- ``chromium``: the path of Debian's Chromium for the browser tests; a test
  that needs it fails with one line when it is not installed.

The session ends with an exit guard: a test process still alive
``EXIT_GRACE_S`` seconds after its summary (a library's exit handler stuck,
seen once in CI after every test had passed) prints every thread's stack and
its child processes, then exits with the session's own status.
"""

from __future__ import annotations

import faulthandler
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from pytaaa.data.synth import synthetic_quotes, write_workspace
from pytaaa.model import Quotes

SMALL = {"n_symbols": 20, "years": 8.0, "seed": 0}
#: Where the browser tests expect Chromium (PYTAAA_CHROMIUM overrides, for the test of this check).
CHROMIUM = os.environ.get("PYTAAA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_MISSING = "install chromium (apt-get install chromium)"
#: Seconds the test process may take to exit after the session summary.
EXIT_GRACE_S = float(os.environ.get("PYTAAA_TEST_EXIT_GRACE", "60"))
_exit_status = {"code": 0}


@pytest.fixture(scope="session")
def synth_quotes_small() -> Quotes:
    """Synthetic quotes: 20 tickers plus CASH over 8 years of weekdays (seed 0)."""
    return synthetic_quotes(**SMALL)


@pytest.fixture(scope="session")
def synth_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Config path of a small synthetic workspace (``SMALL``, method HMAs); read-only."""
    return write_workspace(tmp_path_factory.mktemp("synth_workspace"), **SMALL)


@pytest.fixture
def workspace_copy(synth_workspace: Path, tmp_path: Path) -> Path:
    """Config path of a private, writable copy of ``synth_workspace``."""
    dest = tmp_path / "workspace"
    shutil.copytree(synth_workspace.parent, dest)
    return dest / synth_workspace.name


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of the Chromium binary; fails (not skips) in one line when it is missing."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(CHROMIUM_MISSING, pytrace=False)
    return CHROMIUM


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _exit_status["code"] = int(exitstatus)


def _exit_guard(grace: float) -> None:
    time.sleep(grace)
    err = sys.__stderr__
    try:
        kids = [f"{p.pid} {' '.join(p.cmdline())[:160]}"
                for p in psutil.Process().children(recursive=True)]
    except psutil.Error as exc:  # the report must not stop the exit
        kids = [f"(cannot list: {exc})"]
    if err is not None:
        err.write(f"\ntests/conftest.py: the test process has not exited {grace:.0f} s after the "
                  f"session; exiting with the session's status {_exit_status['code']}.\n"
                  f"child processes: {kids or 'none'}\n"
                  f"threads: {[t.name for t in threading.enumerate()]}\n")
        err.flush()
        faulthandler.dump_traceback(file=err, all_threads=True)
        err.flush()
    os._exit(_exit_status["code"])


def pytest_unconfigure(config: pytest.Config) -> None:
    threading.Thread(target=_exit_guard, args=(EXIT_GRACE_S,), name="pytaaa-test-exit-guard",
                     daemon=True).start()
