"""Other local users: a `.pytaaa/` state folder or lock that someone else owns or can write is
refused; the job reads its hand-off through the descriptor it inherited; a forged owner record
never makes pytaaa signal an unrelated process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from _helpers import wait_for

from pytaaa.jobs.handoff import open_handoff, write_handoff
from pytaaa.jobs.lock import JobLock, Owner, is_pytaaa_job, take_over, write_owner
from pytaaa.jobs.paths import JobPaths, UnsafeStateError

OTHER_UID = 54321
as_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                             reason="needs root to give a file to another uid")


@as_root
def test_a_state_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    paths = JobPaths(tmp_path, "charts")
    paths.state_dir.mkdir(mode=0o700)
    os.chown(paths.state_dir, OTHER_UID, OTHER_UID)
    with pytest.raises(UnsafeStateError) as err:
        paths.ensure_state_dirs()
    assert str(err.value) == (
        f"{paths.state_dir}: owned by uid {OTHER_UID}: expected a folder owned by you (uid 0) "
        "that others cannot write; remove it and run again")


def test_a_state_folder_others_can_write_or_a_symlink_is_refused(tmp_path: Path) -> None:
    paths = JobPaths(tmp_path / "a", "charts")
    paths.webpage.mkdir()
    paths.state_dir.mkdir()
    os.chmod(paths.state_dir, 0o777)
    with pytest.raises(UnsafeStateError, match=r"writable by others \(mode 0777\)"):
        paths.ensure_state_dirs()
    other = JobPaths(tmp_path / "b", "charts")
    other.webpage.mkdir()
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    other.state_dir.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UnsafeStateError, match="found a symlink"):
        other.ensure_state_dirs()
    mine = JobPaths(tmp_path / "c", "charts")
    mine.webpage.mkdir()
    mine.ensure_state_dirs()
    mine.ensure_state_dirs()  # again: our own folder is fine
    assert (mine.spool_dir.stat().st_mode & 0o077) == 0


def test_a_lock_file_others_can_write_owned_by_another_or_a_symlink_is_refused(
        tmp_path: Path) -> None:
    paths = JobPaths(tmp_path, "charts")
    paths.ensure_state_dirs()
    paths.lock.write_text("")
    os.chmod(paths.lock, 0o666)
    with pytest.raises(UnsafeStateError, match="writable by others"):
        JobLock(paths.lock).try_acquire()
    paths.lock.unlink()
    paths.lock.symlink_to(tmp_path / "target.lock")
    with pytest.raises(UnsafeStateError, match="found a symlink"):
        JobLock(paths.lock).try_acquire()
    assert not (tmp_path / "target.lock").exists()
    paths.lock.unlink()
    if os.geteuid() == 0:
        paths.lock.write_text("")
        os.chmod(paths.lock, 0o600)
        os.chown(paths.lock, OTHER_UID, OTHER_UID)
        with pytest.raises(UnsafeStateError, match=f"owned by uid {OTHER_UID}"):
            JobLock(paths.lock).try_acquire()
        paths.lock.unlink()
    lock = JobLock(paths.lock)
    assert lock.try_acquire()
    lock.release()


@as_root
def test_the_cli_refuses_a_state_folder_of_another_user(workspace_copy: Path) -> None:
    web = workspace_copy.parent / json.loads(workspace_copy.read_text())["Valuation"]["webpage"]
    state = web / ".pytaaa"
    state.mkdir(parents=True, mode=0o700)
    os.chown(state, OTHER_UID, OTHER_UID)
    res = subprocess.run([sys.executable, "-m", "pytaaa", "charts", "--json", str(workspace_copy),
                          "--async"], capture_output=True, text=True, timeout=120)
    assert res.returncode != 0
    assert f"owned by uid {OTHER_UID}: expected a folder owned by you" in res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    assert not list(state.iterdir())


def test_the_hand_off_is_read_through_the_inherited_descriptor(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir(mode=0o700)
    mine = write_handoff(spool, "charts", {"who": "me"}, {"a": np.arange(3.0)})
    # someone swaps the file between write and read
    theirs = write_handoff(tmp_path, "charts", {"who": "attacker"}, {"a": np.zeros(3)})
    os.replace(theirs.path, mine.path)
    theirs.release()
    try:
        with open_handoff(mine.path, "charts", fd=mine.lock_fd) as reader:
            assert reader.values == {"who": "me"}
    finally:
        mine.release()
    assert mine.path.exists()  # not ours any more: left alone, not read


def test_a_forged_owner_record_never_signals_an_unrelated_process(tmp_path: Path) -> None:
    victim = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        proc = psutil.Process(victim.pid)
        wait_for(lambda: proc.cmdline()[:1] == ["sleep"], timeout=30)
        forged = Owner(victim.pid, os.getpgid(victim.pid), "forged", proc.create_time(), True)
        assert not is_pytaaa_job(forged, JobPaths(tmp_path, "charts").lock)
        paths = JobPaths(tmp_path, "charts")
        paths.ensure_state_dirs()
        write_owner(paths, forged)
        lock = JobLock(paths.lock)
        take_over(lock, paths, grace=0.2, note=lambda _m: None, give_up_after=2.0)
        lock.release()
        time.sleep(0.3)
        assert victim.poll() is None, "the unrelated process was signalled"
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait()


def test_only_the_process_holding_the_jobs_lock_is_recognised(tmp_path: Path) -> None:
    paths = JobPaths(tmp_path, "charts")
    paths.ensure_state_dirs()
    code = ("import sys, time\n"
            "from pytaaa.jobs.lock import JobLock\n"
            "lock = JobLock(sys.argv[1])\n"
            "assert lock.try_acquire()\n"
            "print('locked', flush=True)\n"
            "time.sleep(30)\n")
    job = subprocess.Popen([sys.executable, "-c", code, str(paths.lock)], stdout=subprocess.PIPE,
                           text=True, start_new_session=True)
    try:
        assert job.stdout.readline().strip() == "locked"
        created = psutil.Process(job.pid).create_time()
        owner = Owner(job.pid, job.pid, "j", created, True)
        assert is_pytaaa_job(owner, paths.lock)
        assert not is_pytaaa_job(owner, paths.state_dir / "montecarlo.lock")
        assert not is_pytaaa_job(Owner(job.pid, job.pid, "j", created + 5, True), paths.lock)
        assert not is_pytaaa_job(Owner(job.pid, job.pid + 1, "j", created, True), paths.lock)
    finally:
        job.kill()
        job.wait()
