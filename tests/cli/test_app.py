"""``pytaaa run``: the summary's email line and ``--quiet``, on a real synthetic workspace."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytaaa.data.synth import write_workspace


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytaaa", "run", *args], capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


@pytest.mark.slow
def test_email_line_names_the_reason_and_quiet_prints_nothing(tmp_path: Path) -> None:
    cfg = write_workspace(tmp_path / "ws", n_symbols=6, years=4.0, seed=4, config_overrides={
        "montecarlo_trials": 2, "montecarlo_workers": 1, "plot_generation_workers": 1,
        "Email": {"From": "me@example.org", "To": "me@example.org", "enabled": False}})
    res = _run("--json", str(cfg), "--sync")
    assert res.returncode == 0, res.stderr
    assert "Email: not sent: Email.enabled is false" in res.stdout.splitlines()
    assert "EmailResult(" not in res.stdout + res.stderr
    assert re.search(r"\] analysis\s+\d+\.\d{3} s", res.stderr)

    quiet = _run("--json", str(cfg), "--sync", "--quiet", "--force")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == ""  # no summary
    # no stage log or progress: only warnings (e.g. data quality) may remain
    assert all(ln.startswith("warning: ") for ln in quiet.stderr.splitlines()), quiet.stderr
    assert not re.search(r"\] analysis\s+\d", quiet.stderr)
    assert (tmp_path / "ws" / "web" / "pyTAAAweb.html").exists()
