"""The background-job runtime: hand-off, lock and supersede, status, log, pool, launch.

Real parts only: real files and flocks, real subprocesses holding locks and
receiving signals, a real process pool whose workers die.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import psutil
import pytest
from _helpers import descendants, wait_for

from pytaaa.jobs.handoff import HandoffError, cleanup_spool, open_handoff, write_handoff
from pytaaa.jobs.joblog import JobLog, open_log_for_append, rotate_log
from pytaaa.jobs.lock import (
    JobLock,
    Owner,
    lock_is_free,
    owner_alive,
    take_over,
    write_owner,
)
from pytaaa.jobs.paths import JobPaths
from pytaaa.jobs.pool import TaskError, TaskOutcome, TaskRunner, make_process_pool
from pytaaa.jobs.runtime import cancel_job, launch
from pytaaa.jobs.status import JobStatus, StatusWriter, read_status

# A minimal job of kind "sleeper": takes the lock, marks itself running, waits
# until it is told to stop, records "cancelled" and exits 143.  Modes:
# "detached" stops on SIGTERM or a cancel request; "deaf" ignores both (a hung
# job); "inproc" is an in-process (sync) run: no SIGTERM handler, so only a
# cancel request can stop it cleanly (a SIGTERM would kill it: exit -15).
SLEEPER = r"""
import signal, sys, time
from pathlib import Path
from pytaaa.jobs.joblog import JobLog
from pytaaa.jobs.paths import JobPaths
from pytaaa.jobs.runtime import JobSession, StopFlag, install_sigterm
from pytaaa.jobs.status import JobStatus
webpage, job_id, mode = sys.argv[1], sys.argv[2], sys.argv[3]
stop = StopFlag()
if mode == "deaf":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
elif mode == "detached":
    install_sigterm(stop)
s = JobSession(JobPaths(Path(webpage), "sleeper"), job_id=job_id, workers=1,
               log=JobLog(sys.stdout), log_path=None, detached=mode != "inproc", grace=1.0,
               stop=stop)
if not s.open():
    sys.exit(1)
s.status.set_total(3)
print("READY", flush=True)
while mode == "deaf" or not s.should_stop():
    time.sleep(0.05)
s.close(JobStatus.CANCELLED, 143, "cancelled")
sys.exit(143)
"""


def start_sleeper(webpage: Path, job_id: str, mode: str = "detached") -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", SLEEPER, str(webpage), job_id, mode],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    line = proc.stdout.readline()
    assert line.strip() == "READY", line + proc.stdout.read()
    return proc




@pytest.fixture
def site(tmp_path: Path) -> Path:
    d = tmp_path / "web"
    d.mkdir()
    return d


# ---- hand-off ------------------------------------------------------------------------


def _arrays() -> dict[str, np.ndarray]:
    return {
        "dates": np.arange("2024-01-01", "2024-01-11", dtype="datetime64[D]"),
        "close": np.linspace(1, 2, 30).reshape(3, 10),
        "held": np.ones((3, 10), dtype=np.int8),
    }


def test_handoff_roundtrip_is_private_unpredictable_and_removed(site: Path) -> None:
    paths = JobPaths(site, "charts")
    paths.ensure_state_dirs()
    h1 = write_handoff(paths.spool_dir, "charts", {"symbols": ["A", "B", "C"]}, _arrays())
    h2 = write_handoff(paths.spool_dir, "charts", {}, _arrays())
    assert h1.path.parent == paths.spool_dir and h1.path != h2.path
    assert re.fullmatch(r"charts-[0-9a-f]{32}\.npz", h1.path.name)
    assert h1.path.stat().st_mode & 0o777 == 0o600
    assert paths.spool_dir.stat().st_mode & 0o777 == 0o700
    # a plain npz reader refuses nothing and executes nothing
    with np.load(h1.path, allow_pickle=False) as z:
        assert json.loads(z["manifest.json"])["kind"] == "charts"
    with open_handoff(h1.path, "charts") as reader:
        assert reader.values == {"symbols": ["A", "B", "C"]}
        np.testing.assert_array_equal(reader.load("close"), _arrays()["close"])
        reader.copy_to("held", site / "held.npy")
    assert not h1.path.exists()
    np.testing.assert_array_equal(np.load(site / "held.npy"), _arrays()["held"])
    # h2 is still locked by its writer: not an orphan; once released it is one
    assert cleanup_spool(paths.spool_dir) == []
    assert h2.path.exists()
    h2.release()
    assert cleanup_spool(paths.spool_dir) == [h2.path]
    assert not h2.path.exists()
    h1.release()


def _garble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 64):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage, expected",
    [
        ("missing", "not found"),
        ("truncate", "corrupt or truncated"),
        ("garble", "corrupt"),
        ("text", "corrupt or truncated"),
        ("wrong_kind", "not 'charts'"),
        ("pickle", "C-ordered numeric"),
        ("shape_lie", "manifest says"),
    ],
)
def test_bad_handoff_is_rejected_clearly_and_removed(site: Path, damage: str, expected: str) -> None:
    spool = site / "spool"
    spool.mkdir()
    big = {"close": np.random.default_rng(0).random((50, 400))}
    h = write_handoff(spool, "montecarlo" if damage == "wrong_kind" else "charts", {}, big)
    h.release()
    p = h.path
    if damage == "missing":
        p.unlink()
    elif damage == "truncate":
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    elif damage == "garble":
        _garble(p)
    elif damage == "text":
        p.write_text("this is not a zip file\n")
    elif damage in ("pickle", "shape_lie"):
        with zipfile.ZipFile(p, "w") as zf:
            arr = np.array([{"x": 1}], dtype=object) if damage == "pickle" else np.zeros((2, 2))
            spec = {"dtype": arr.dtype.str, "shape": [3, 3] if damage == "shape_lie" else [1]}
            zf.writestr("manifest.json", json.dumps(
                {"format": "pytaaa-handoff", "version": 1, "kind": "charts", "values": {},
                 "arrays": {"close": spec}}))
            with zf.open("close.npy", "w") as fh:
                np.lib.format.write_array(fh, arr, allow_pickle=True)
    with pytest.raises(HandoffError) as err:
        with open_handoff(p, "charts") as reader:
            for name in reader.arrays:
                reader.copy_to(name, site / f"{name}.npy")
    assert expected in str(err.value) and str(p) in str(err.value)
    assert not p.exists()


# ---- lock, owner, supersede, cancel ---------------------------------------------------


def test_lock_is_exclusive_and_dropped_when_its_holder_dies(site: Path) -> None:
    paths = JobPaths(site, "sleeper")
    paths.ensure_state_dirs()
    stale = [paths.state_dir / ".sleeper.json.abc123.tmp", site / ".pytaaa_job_sleeper.js.x.tmp"]
    for p in stale:  # left by a writer killed mid-write
        p.write_text("{")
    job = start_sleeper(site, "job-a")
    assert not any(p.exists() for p in stale)
    try:
        assert not lock_is_free(paths.lock)
        assert not JobLock(paths.lock).try_acquire()
        st = read_status(site, "sleeper")
        assert st["state"] == "running" and st["pid"] == job.pid and not st["died"]
        js = paths.status_js.read_text()
        assert js.startswith("window.PYTAAA_JOBS = window.PYTAAA_JOBS || {}; "
                             'window.PYTAAA_JOBS["sleeper"] = ')
        assert json.loads(js.split(" = ", 2)[2].rstrip(";\n"))["job_id"] == "job-a"
        os.kill(job.pid, signal.SIGKILL)
        job.wait(10)
        assert lock_is_free(paths.lock)
        st = read_status(site, "sleeper")
        assert st["state"] == "died" and st["died"] is True
    finally:
        job.kill()
        job.wait()


def test_take_over_supersedes_a_running_job_with_sigterm(site: Path) -> None:
    paths = JobPaths(site, "sleeper")
    old = start_sleeper(site, "old")
    notes: list[str] = []
    lock = JobLock(paths.lock)
    try:
        assert take_over(lock, paths, grace=5.0, note=notes.append)
        assert old.wait(10) == 143
        assert lock.held
        assert read_status(site, "sleeper")["state"] == "cancelled"
        assert any("Superseding" in n and "old" in n for n in notes)
    finally:
        lock.release()
        old.kill()
        old.wait()


def test_take_over_kills_a_job_that_ignores_sigterm_after_the_grace(site: Path) -> None:
    paths = JobPaths(site, "sleeper")
    stubborn = start_sleeper(site, "stubborn", mode="deaf")
    lock = JobLock(paths.lock)
    notes: list[str] = []
    try:
        t0 = time.monotonic()
        assert take_over(lock, paths, grace=0.5, note=notes.append)
        assert stubborn.wait(10) == -signal.SIGKILL
        assert time.monotonic() - t0 >= 0.5
        assert any("SIGKILL" in n for n in notes)
        assert read_status(site, "sleeper")["state"] == "running"  # it never recorded its end
    finally:
        lock.release()
        stubborn.kill()
        stubborn.wait()


def test_take_over_asks_an_in_process_run_to_stop_without_signalling_it(site: Path) -> None:
    paths = JobPaths(site, "sleeper")
    sync_run = start_sleeper(site, "sync-run", mode="inproc")
    lock = JobLock(paths.lock)
    notes: list[str] = []
    try:
        assert take_over(lock, paths, grace=0.5, note=notes.append)
        assert sync_run.wait(10) == 143  # stopped itself: no SIGTERM (-15), no SIGKILL (-9)
        assert any("cancel request (in-process run)" in n for n in notes)
        assert not any("SIGKILL" in n for n in notes)
    finally:
        lock.release()
        sync_run.kill()
        sync_run.wait()


def test_take_over_never_signals_a_process_it_cannot_identify(site: Path) -> None:
    """An owner record whose pid belongs to another process (recycled pid) is ignored."""
    paths = JobPaths(site, "sleeper")
    paths.ensure_state_dirs()
    bystander = subprocess.Popen(["sleep", "30"], start_new_session=True)
    holder = JobLock(paths.lock)
    assert holder.try_acquire()  # a holder that wrote no owner record
    try:
        real = Owner.me("bystander", True)
        fake = Owner(bystander.pid, bystander.pid, "ghost", real.create_time - 1000.0, True)
        write_owner(paths, fake)
        assert not owner_alive(fake)
        lock = JobLock(paths.lock)
        assert not take_over(lock, paths, grace=0.1, note=lambda s: None, give_up_after=0.6)
        assert bystander.poll() is None
    finally:
        holder.release()
        bystander.kill()
        bystander.wait()


def test_cancel_job_stops_the_running_job_and_reports_none_afterwards(site: Path) -> None:
    paths = JobPaths(site, "sleeper")
    job = start_sleeper(site, "to-cancel")
    try:
        assert cancel_job(paths, grace=5.0, note=lambda s: None) is True
        assert job.wait(10) == 143
        assert read_status(site, "sleeper")["state"] == "cancelled"
        assert cancel_job(paths, grace=5.0, note=lambda s: None) is False
    finally:
        job.kill()
        job.wait()


def test_cancel_job_closes_the_status_of_a_job_it_had_to_kill(site: Path) -> None:
    paths = JobPaths(site, "sleeper")
    job = start_sleeper(site, "stubborn", mode="deaf")
    try:
        assert cancel_job(paths, grace=0.3, note=lambda s: None)
        assert job.wait(10) == -signal.SIGKILL
        st = read_status(site, "sleeper")
        assert st["state"] == "cancelled" and st["finished_at"]
    finally:
        job.kill()
        job.wait()


# ---- status and log ---------------------------------------------------------------------


def test_status_writes_are_throttled_but_state_changes_are_immediate(site: Path) -> None:
    paths = JobPaths(site, "charts")
    paths.ensure_state_dirs()
    w = StatusWriter(paths, job_id="j", workers=2, log_path=site / "x.log", detached=False,
                     min_interval=60.0)
    w.set_total(10)
    w.set_state(JobStatus.RUNNING)
    for _ in range(5):
        w.item_done("created")
    w.item_done("failed", "XYZ (recent)", "boom")
    on_disk = json.loads(paths.status.read_text())
    assert on_disk["state"] == "running" and on_disk["done"] == 0  # throttled
    w.finish(JobStatus.FAILED, 1, "1 chart failed")
    on_disk = json.loads(paths.status.read_text())
    assert on_disk["done"] == 6 and on_disk["created"] == 5 and on_disk["failed"] == 1
    assert on_disk["errors"] == [{"item": "XYZ (recent)", "message": "boom"}]
    assert on_disk["state"] == "failed" and on_disk["exit_code"] == 1 and on_disk["finished_at"]
    for key in ("kind", "job_id", "pid", "pgid", "started_at", "updated_at", "total", "skipped",
                "log", "workers"):
        assert key in on_disk
    assert read_status(site, "charts")["state"] == "failed"
    assert read_status(site, "montecarlo") is None


def test_log_lines_are_timestamped_unbuffered_and_the_previous_log_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "plot_generation.log"
    path.write_text("yesterday\n")
    rotate_log(path)
    assert (tmp_path / "plot_generation.log.1").read_text() == "yesterday\n"
    stream = open_log_for_append(path)
    log = JobLog(stream)
    log.line("first")
    assert re.fullmatch(r"\[\d\d:\d\d:\d\d\] first\n", path.read_text())  # visible before close
    log.item("\u2713", "AAPL (full history)")
    assert path.read_text().splitlines()[1].endswith("]   \u2713 AAPL (full history)")
    log.close()


# ---- the pool runner ----------------------------------------------------------------------


def square(x: int) -> int:
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise TaskError("three is bad")
    return x


def die_on_five(x: int) -> int:
    if x == 5:
        os._exit(9)
    time.sleep(0.01)
    return x


def die_once(arg: tuple[int, str]) -> int:
    x, flag = arg
    if x == 4 and not os.path.exists(flag):
        Path(flag).write_text("died")
        os._exit(9)
    return x


def slow(x: int) -> int:
    time.sleep(0.2)
    return x


def _run(fn, items, workers=2, **kw):
    outcomes: list[TaskOutcome] = []
    runner = TaskRunner(lambda: make_process_pool(workers), fn, max_outstanding=2 * workers,
                        on_outcome=outcomes.append, **kw)
    try:
        finished = runner.run(items)
    finally:
        runner.close()
    return finished, {o.item: o for o in outcomes}, runner


def test_runner_reports_results_and_task_failures() -> None:
    finished, out, _ = _run(fail_on_three, range(6))
    assert finished and sorted(out) == list(range(6))
    assert not out[3].ok and out[3].error == "three is bad"
    assert all(out[i].ok and out[i].value == i for i in (0, 1, 2, 4, 5))
    finished, out, _ = _run(square, range(5), workers=1)
    assert [out[i].value for i in range(5)] == [0, 1, 4, 9, 16]


@pytest.mark.slow
def test_runner_survives_dead_workers_and_fails_an_item_that_kills_twice(tmp_path: Path) -> None:
    finished, out, runner = _run(die_on_five, range(10))
    assert finished and len(out) == 10
    assert not out[5].ok and "died twice" in out[5].error
    assert all(out[i].ok for i in range(10) if i != 5)
    assert runner.rebuilds >= 2
    flag = str(tmp_path / "flag")
    finished, out, runner = _run(die_once, [(i, flag) for i in range(8)])
    assert all(o.ok for o in out.values()) and len(out) == 8
    assert runner.rebuilds == 1


def test_runner_stops_when_asked_and_leaves_no_worker(tmp_path: Path) -> None:
    outcomes: list[TaskOutcome] = []
    before = {p.pid for p in descendants(os.getpid())}
    runner = TaskRunner(lambda: make_process_pool(2), slow, max_outstanding=4,
                        on_outcome=outcomes.append, should_stop=lambda: len(outcomes) >= 2)
    assert runner.run(range(40)) is False
    runner.close()
    assert 2 <= len(outcomes) < 40
    workers = [p for p in descendants(os.getpid()) if p.pid not in before]
    gone, alive = psutil.wait_procs([p for p in workers if "forkserver" not in " ".join(
        _cmdline(p))], timeout=10)
    assert not alive


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


# ---- launch ---------------------------------------------------------------------------------


def test_launch_returns_before_the_child_runs_and_leaves_no_zombie(site: Path) -> None:
    """This test process is the long-lived parent: its finished jobs must not stay zombies."""
    pids = []
    for i in range(3):
        res = launch(JobPaths(site, "charts"), module="pytaaa.charts.job",
                     log_name="plot_generation.log", job_id=f"z{i}", workers=1,
                     write_inputs=None, args=[])
        assert res.ok and res.pid
        pids.append(res.pid)
    # each child exits at once (no --data-file: argument error, status 2)
    for pid in pids:
        wait_for(lambda pid=pid: not psutil.pid_exists(pid), timeout=30)
    assert "--data-file" in (site / "plot_generation.log").read_text()
    assert (site / "plot_generation.log.1").exists()


def test_launch_failure_is_reported_and_leaves_no_handoff(site: Path, monkeypatch) -> None:
    paths = JobPaths(site, "charts")
    written = []

    def inputs(spool: Path):
        h = write_handoff(spool, "charts", {}, _arrays())
        written.append(h.path)
        return h

    (site / "plot_generation.log").mkdir()  # the log cannot be opened
    res = launch(paths, module="pytaaa.charts.job", log_name="plot_generation.log",
                 job_id="bad-log", workers=1, write_inputs=inputs, args=[])
    assert not res.ok and "cannot prepare the job" in res.error
    (site / "plot_generation.log").rmdir()
    monkeypatch.setattr(sys, "executable", str(site / "no-such-python"))
    res = launch(paths, module="pytaaa.charts.job", log_name="plot_generation.log",
                 job_id="bad-exe", workers=1, write_inputs=inputs, args=[])
    assert not res.ok and "cannot start" in res.error and "no-such-python" in res.error
    assert len(written) == 2 and not any(p.exists() for p in written)
    assert list(paths.spool_dir.iterdir()) == []


# ---- pytaaa jobs ---------------------------------------------------------------------------


def test_jobs_command_shows_states_and_fails_on_a_failed_job(site: Path) -> None:
    from click.testing import CliRunner

    from pytaaa.cli.jobs import jobs

    paths = JobPaths(site, "charts")
    paths.ensure_state_dirs()
    w = StatusWriter(paths, job_id="c1", workers=2, log_path=site / "plot_generation.log",
                     detached=True)
    w.set_total(4)
    w.set_state(JobStatus.RUNNING)
    w.item_done("created")
    w.item_done("failed", "XYZ (recent)", "disk full")
    w.finish(JobStatus.FAILED, 1, "1 chart failed")
    job = start_sleeper(site, "s1")
    try:
        res = CliRunner().invoke(jobs, ["--webpage", str(site)], env={"COLUMNS": "200"})
        assert res.exit_code == 1, res.output
        assert "charts" in res.output and "failed" in res.output and "XYZ (recent)" in res.output
        assert "sleeper" in res.output and "running" in res.output and "2/4" in res.output
        # --watch returns once every job has finished (the sleeper is cancelled meanwhile)
        import threading

        threading.Timer(1.0, cancel_job, (JobPaths(site, "sleeper"), 5.0),
                        {"note": lambda s: None}).start()
        res = CliRunner().invoke(jobs, ["--webpage", str(site), "--watch"], env={"COLUMNS": "200"})
        assert res.exit_code == 1 and "cancelled" in res.output
        assert job.wait(10) == 143
        res = CliRunner().invoke(jobs, ["cancel", "sleeper", "--webpage", str(site)])
        assert res.exit_code == 0 and "No sleeper job is running" in res.output
        res = CliRunner().invoke(jobs, [])
        assert res.exit_code == 2 and "--json" in res.output
        res = CliRunner().invoke(jobs, ["cancel", "Bad Kind!", "--webpage", str(site)])
        assert res.exit_code == 2
    finally:
        job.kill()
        job.wait()


def slow_square(x: int) -> int:
    """``square`` that takes long enough for the pool to notice a dead worker first."""
    time.sleep(0.05)
    return x * x


def die_in_first_initializer(flag: str) -> None:
    """Pool initializer: the first worker ever started dies at once."""
    try:
        fd = os.open(flag, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(fd)
    os._exit(9)


@pytest.mark.timeout(120)
def test_runner_survives_a_worker_dying_while_the_pool_starts(tmp_path: Path) -> None:
    flag = str(tmp_path / "first")
    outcomes: list[TaskOutcome] = []
    runner = TaskRunner(
        lambda: make_process_pool(2, die_in_first_initializer, (flag,)), slow_square,
        max_outstanding=4, on_outcome=outcomes.append,
    )
    try:
        assert runner.run(range(10)) is True
    finally:
        runner.close()
    assert sorted(o.item for o in outcomes) == list(range(10))
    assert all(o.ok and o.value == o.item ** 2 for o in outcomes)
    assert runner.rebuilds >= 1
