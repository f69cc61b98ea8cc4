"""Shared fixtures.

- ``synth_quotes_small``: synthetic Quotes, 20 symbols (+ CASH) x 8 years, seed 0.
- ``synth_workspace``: a complete workspace built once per session from the
  same data; returns its config path.  Treat it as read-only.
- ``workspace_copy``: a private copy of ``synth_workspace`` for a test that
  writes (a daily run, a job); returns the copy's config path.
- ``chromium``: the path of Debian's Chromium for the browser tests; a test
  that needs it fails with one line when it is not installed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pytaaa.data.synth import synthetic_quotes, write_workspace
from pytaaa.model import Quotes

SMALL = {"n_symbols": 20, "years": 8.0, "seed": 0}
#: Where the browser tests expect Chromium (PYTAAA_CHROMIUM overrides, for the test of this check).
CHROMIUM = os.environ.get("PYTAAA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_MISSING = "install chromium (apt-get install chromium)"


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
