"""Helpers die with their parent: after a SIGKILL of the process that owns a pool (a daily
run drawing charts, a detached job), its fork server and workers are gone within seconds and
the caller's pipe sees EOF."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from _helpers import descendants, wait_for

from pytaaa.jobs.lifeline import set_parent_death_signal, worker_start

OWNER = """
import sys, time
from pytaaa.jobs.pool import make_process_pool

def nap(_):
    time.sleep(60)

if __name__ == "__main__":
    pool = make_process_pool(2)
    futures = [pool.submit(nap, i) for i in range(2)]
    print("ready", flush=True)
    time.sleep(120)
"""


def _eof_within(fd: int, seconds: float) -> bool:
    os.set_blocking(fd, False)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if os.read(fd, 65536) == b"":
                return True
        except BlockingIOError:
            pass
        time.sleep(0.05)
    return False


def _kill_and_check(proc: subprocess.Popen, min_children: int) -> None:
    kids = wait_for(lambda: len(k := descendants(proc.pid)) >= min_children and k, timeout=120)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    try:
        assert _eof_within(proc.stdout.fileno(), 10), "a helper still holds the caller's pipe"
        gone, alive = psutil.wait_procs(kids, timeout=10)
        assert not alive, [(p.pid, p.cmdline()) for p in alive]
    finally:
        for k in kids:
            if k.is_running():
                k.kill()


def test_pool_helpers_die_with_their_owner_and_release_the_pipe(tmp_path: Path) -> None:
    script = tmp_path / "owner.py"
    script.write_text(OWNER)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    assert proc.stdout.readline().strip() == b"ready"
    _kill_and_check(proc, 3)  # fork server (+ resource tracker) and two workers


def test_a_worker_ends_when_the_pool_owner_is_gone_even_without_pdeathsig() -> None:
    # the portable watcher: the owner pid is a process that exits right away
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    code = ("import sys, time\n"
            "from pytaaa.jobs.lifeline import watch_process\n"
            f"watch_process({owner.pid}, interval=0.1)\n"
            "time.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", code])
    owner.wait(10)
    assert child.wait(15) == 1


def test_parent_death_signal_is_set_on_linux() -> None:
    if not sys.platform.startswith("linux"):
        assert set_parent_death_signal() is False
        return
    code = ("import signal, ctypes, ctypes.util\n"
            "from pytaaa.jobs.lifeline import set_parent_death_signal\n"
            "assert set_parent_death_signal()\n"
            "libc = ctypes.CDLL(ctypes.util.find_library('c'))\n"
            "v = ctypes.c_int()\n"
            "libc.prctl(2, ctypes.byref(v), 0, 0, 0)\n"  # PR_GET_PDEATHSIG
            "print(v.value)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == str(int(signal.SIGKILL)), out.stderr
    assert callable(worker_start)


@pytest.mark.slow
def test_sigkill_of_a_daily_run_drawing_charts_leaves_no_helper(tmp_path: Path) -> None:
    from pytaaa.data.synth import write_workspace

    cfg = write_workspace(tmp_path / "ws", n_symbols=40, years=6.0, seed=1, config_overrides={
        "plot_generation_workers": 2, "async_plot_generation": False,
        "async_montecarlo_backtest": False, "montecarlo_trials": 4, "montecarlo_workers": 2})
    proc = subprocess.Popen([sys.executable, "-m", "pytaaa", "run", "--json", str(cfg),
                             "--no-email", "--sync"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    _kill_and_check(proc, 3)


@pytest.mark.slow
def test_sigkill_of_a_detached_jobs_main_process_leaves_no_helper(tmp_path: Path) -> None:
    from pytaaa.data.synth import write_workspace

    cfg = write_workspace(tmp_path / "ws", n_symbols=30, years=8.0, seed=1, config_overrides={
        "montecarlo_trials": 40, "montecarlo_workers": 2})
    res = subprocess.run([sys.executable, "-m", "pytaaa", "montecarlo", "--json", str(cfg),
                          "--async"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    status = Path(json.loads(cfg.read_text())["Valuation"]["webpage"])
    status = (cfg.parent / status / ".pytaaa" / "montecarlo.json")
    pid = wait_for(lambda: status.exists() and json.loads(status.read_text()).get("state")
                   == "running" and json.loads(status.read_text())["pid"], timeout=120)
    job = psutil.Process(pid)
    kids = wait_for(lambda: len(k := descendants(pid)) >= 3 and k, timeout=120)
    job.kill()
    gone, alive = psutil.wait_procs(kids, timeout=10)
    for p in alive:
        p.kill()
    assert not alive
