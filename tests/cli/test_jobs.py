"""``pytaaa jobs``: bad arguments exit 2 with one line; a real Monte Carlo job is
listed as JSON, watched off a terminal (a line per change) and cancelled by the user."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from _helpers import wait_for
from click.testing import CliRunner

import pytaaa
from pytaaa.cli.jobs import JOB_KINDS, jobs
from pytaaa.data.synth import write_workspace
from pytaaa.jobs.status import read_status


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytaaa", *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_known_kinds_are_the_kinds_of_the_job_modules() -> None:
    src = Path(pytaaa.__file__).parent
    kinds = {m.group(1) for p in src.rglob("*.py")
             for m in re.finditer(r'^KIND = "(\w+)"', p.read_text(encoding="utf-8"), re.M)}
    assert kinds == set(JOB_KINDS)


def test_unknown_kind_exits_2_and_a_known_idle_kind_exits_0(tmp_path: Path) -> None:
    res = CliRunner().invoke(jobs, ["cancel", "foo", "--webpage", str(tmp_path)])
    assert res.exit_code == 2
    assert f"unknown job kind 'foo': expected one of {', '.join(JOB_KINDS)}" in res.output
    res = CliRunner().invoke(jobs, ["cancel", "charts", "--webpage", str(tmp_path)])
    assert res.exit_code == 0 and "No charts job is running" in res.output


@pytest.mark.parametrize("args", [[], ["--format", "json"], ["cancel", "charts"]])
def test_missing_web_folder_exits_2(tmp_path: Path, args: list[str]) -> None:
    missing = tmp_path / "nonexistent"
    where = ["--webpage", str(missing)]
    argv = where + args if not args or args[0] != "cancel" else args + where
    res = CliRunner().invoke(jobs, argv)
    assert res.exit_code == 2
    assert res.output.strip() == f"error: web folder {missing} (--webpage) does not exist"
    assert not missing.exists()


def test_no_job_yet_as_json(tmp_path: Path) -> None:
    res = CliRunner().invoke(jobs, ["--webpage", str(tmp_path), "--format", "json"])
    assert res.exit_code == 0
    assert json.loads(res.output) == {"webpage": str(tmp_path.resolve()), "jobs": []}


@pytest.mark.slow
def test_real_job_as_json_watched_off_a_terminal_and_cancelled(tmp_path: Path) -> None:
    cfg = write_workspace(tmp_path / "ws", n_symbols=40, years=12.0, seed=2,
                          config_overrides={"montecarlo_workers": 1,
                                            "job_cancel_grace_seconds": 5.0})
    web = tmp_path / "ws" / "web"
    start = _cli("montecarlo", "--json", str(cfg), "--async", "--trials", "1000", "--force")
    assert start.returncode == 0, start.stderr
    wait_for(lambda: (read_status(web, "montecarlo") or {}).get("done", 0) >= 1, timeout=60)

    listed = _cli("jobs", "--json", str(cfg), "--format", "json")
    assert listed.returncode == 0, listed.stderr
    doc = json.loads(listed.stdout)
    assert doc["webpage"] == str(web.resolve())
    (job,) = doc["jobs"]
    assert job["kind"] == "montecarlo" and job["state"] == "running" and job["total"] == 1000
    assert job["elapsed_seconds"] > 0 and job["seconds_left"] is None or job["seconds_left"] > 0

    cancelled: dict[str, subprocess.CompletedProcess] = {}

    def cancel_later() -> None:
        time.sleep(2.0)
        cancelled["res"] = _cli("jobs", "cancel", "montecarlo", "--json", str(cfg))

    t = threading.Thread(target=cancel_later)
    t.start()
    watched = _cli("jobs", "--json", str(cfg), "--watch")  # stdout is a pipe, not a terminal
    t.join()
    lines = watched.stdout.splitlines()
    assert watched.returncode == 0, watched.stderr
    assert len(lines) >= 2 and all(": " in ln for ln in lines)
    assert "montecarlo: running" in lines[0] and "montecarlo: cancelled" in lines[-1]
    assert len(set(lines)) == len(lines)  # a line per change, no repeats

    res = cancelled["res"]
    assert res.returncode == 0, res.stderr
    assert "Superseding" not in res.stdout + res.stderr
    assert "Cancelling running montecarlo job" in res.stdout
    assert res.stdout.strip().endswith("montecarlo job cancelled.")
    assert read_status(web, "montecarlo")["state"] == "cancelled"
