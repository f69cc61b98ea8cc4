"""The shared job lifecycle: each way a job body ends -> state, exit code, message,
log line, the status file written and the lock released.

Real parts: a real session with its flock and status files in a temporary site.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

import pytest

from pytaaa.jobs import lock, runtime
from pytaaa.jobs.joblog import JobLog
from pytaaa.jobs.lifecycle import (
    JobLogError,
    JobOutcome,
    in_process_session,
    job_lifecycle,
    log_bad_config,
    summary_word,
    terminal_progress,
)
from pytaaa.jobs.lock import JobLock, lock_is_free
from pytaaa.jobs.paths import JobPaths
from pytaaa.jobs.runtime import JobSession, StopFlag
from pytaaa.jobs.status import JobStatus, read_status

KIND = "lifecycle_test"


class BadThing(Exception):
    pass


class KindFailure(Exception):
    pass


def _session(site: Path, stream: io.StringIO) -> JobSession:
    return JobSession(JobPaths(site, KIND), job_id="20260101-000000-abcdef", workers=1,
                      log=JobLog(stream), log_path=None, detached=True, grace=0.5,
                      stop=StopFlag())


def _run(site: Path, body) -> tuple[JobOutcome, list[str], list[JobOutcome], str]:
    """Run ``body(session, outcome)`` under the lifecycle; return the outcome,
    the calls of on_end/summary (in order), the outcomes summary saw, and the log."""
    stream = io.StringIO()
    session = _session(site, stream)
    calls: list[str] = []
    summaries: list[JobOutcome] = []

    def on_end(o: JobOutcome) -> None:
        calls.append("end")

    def summary(o: JobOutcome) -> None:
        calls.append("summary")
        summaries.append(o)

    outcome_seen: list[JobOutcome] = []
    try:
        with job_lifecycle(session, bad_input=(BadThing,), failures=(KindFailure,),
                           on_end=on_end, summary=summary) as outcome:
            outcome_seen.append(outcome)
            assert outcome.opened(session, blocked="another test job holds the lock")
            body(session, outcome)
    finally:
        assert not session.lock.held
        assert lock_is_free(JobPaths(site, KIND).lock)
    return outcome_seen[0], calls, summaries, stream.getvalue()


def _succeed(session, outcome):
    outcome.succeeded()


def _cancel(session, outcome):
    outcome.cancelled("cancelled (SIGTERM)")


def _fail(session, outcome):
    outcome.failed("3 thing(s) failed")


def _say_nothing(session, outcome):
    pass


def _bad_input(session, outcome):
    raise BadThing("config.json: key 'x' must be a number, got 'y'")


def _kind_failure(session, outcome):
    raise KindFailure("scheduler tcp://nowhere:1 unreachable")


def _bug(session, outcome):
    raise ZeroDivisionError("division by zero")


@pytest.mark.parametrize(
    ("body", "state", "code", "message", "logged"),
    [
        (_succeed, JobStatus.SUCCEEDED, 0, None, None),
        (_cancel, JobStatus.CANCELLED, 143, "cancelled (SIGTERM)", None),
        (_fail, JobStatus.FAILED, 1, "3 thing(s) failed", None),
        (_say_nothing, JobStatus.FAILED, 1, None, None),
        (_bad_input, JobStatus.FAILED, 2, "config.json: key 'x' must be a number, got 'y'",
         "\u2717 config.json: key 'x' must be a number, got 'y'"),
        (_kind_failure, JobStatus.FAILED, 1, "scheduler tcp://nowhere:1 unreachable",
         "\u2717 scheduler tcp://nowhere:1 unreachable"),
        (_bug, JobStatus.FAILED, 1, "job error: ZeroDivisionError: division by zero",
         "\u2717 job error: ZeroDivisionError: division by zero"),
    ],
)
def test_each_outcome_gives_its_state_exit_code_message_and_status(
    tmp_path: Path, body, state: JobStatus, code: int, message: str | None, logged: str | None
) -> None:
    outcome, calls, summaries, log = _run(tmp_path, body)
    assert (outcome.state, outcome.exit_code, outcome.message) == (state, code, message)
    assert outcome.seconds >= 0
    assert calls == ["end", "summary"]
    assert summaries[0] is outcome
    status = read_status(tmp_path, KIND)
    assert status is not None
    assert status["state"] == state.value
    assert status["exit_code"] == code
    if message is not None:
        assert status["message"] == message
    if logged is None:
        assert "\u2717" not in log
    else:
        assert log.rstrip("\n").endswith(logged)


def test_keyboard_interrupt_is_recorded_as_cancelled_and_reraised(tmp_path: Path) -> None:
    seen: list[JobOutcome] = []
    stream = io.StringIO()
    session = _session(tmp_path, stream)
    with pytest.raises(KeyboardInterrupt):
        with job_lifecycle(session, on_end=seen.append) as outcome:
            assert outcome.opened(session, blocked="unused")
            raise KeyboardInterrupt
    assert (seen[0].state, seen[0].exit_code, seen[0].message) == (
        JobStatus.CANCELLED, 143, "interrupted")
    assert session.stop.reason == "interrupted"
    assert read_status(tmp_path, KIND)["state"] == "cancelled"
    assert not session.lock.held


def test_a_job_that_cannot_take_the_lock_writes_no_status_and_no_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the real take_over, giving up after 0.2 s instead of grace + 30 s
    monkeypatch.setattr(runtime, "take_over",
                        functools.partial(lock.take_over, give_up_after=0.2))
    paths = JobPaths(tmp_path, KIND)
    paths.ensure_state_dirs()
    other = JobLock(paths.lock)
    assert other.try_acquire()
    try:
        for stopped in (False, True):
            stream = io.StringIO()
            session = _session(tmp_path, stream)
            session.grace = 0.0
            if stopped:
                session.stop.set("SIGTERM")
            summaries: list[JobOutcome] = []
            with job_lifecycle(session, summary=summaries.append) as outcome:
                opened = outcome.opened(session, blocked="another test job holds the lock",
                                        stopped="cancelled ({reason}) while waiting")
                assert not opened
            if stopped:
                assert (outcome.state, outcome.exit_code, outcome.message) == (
                    JobStatus.CANCELLED, 143, "cancelled (SIGTERM) while waiting")
            else:
                assert (outcome.state, outcome.exit_code, outcome.message) == (
                    JobStatus.FAILED, 1, "another test job holds the lock")
            assert stream.getvalue().rstrip("\n").endswith(f"\u2717 {outcome.message}")
            assert summaries == []
            assert read_status(tmp_path, KIND) is None
    finally:
        other.release()


def test_in_process_session_rotates_the_log_and_reports_an_unopenable_one(tmp_path: Path) -> None:
    paths = JobPaths(tmp_path / "site", KIND)
    paths.webpage.mkdir()
    (paths.webpage / "x.log").write_text("old run\n")
    with in_process_session(paths, log_name="x.log", job_id="j1", workers=1,
                            grace=0.0) as session:
        assert not session.detached
        session.log.line("new run")
    assert (paths.webpage / "x.log.1").read_text() == "old run\n"
    assert "new run" in (paths.webpage / "x.log").read_text()

    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(JobLogError) as info:
        with in_process_session(JobPaths(blocker / "site", KIND), log_name="x.log",
                                job_id="j2", workers=1, grace=0.0):
            pass
    assert str(info.value).startswith(f"cannot open the log {blocker / 'site' / 'x.log'}: ")
    assert isinstance(info.value.os_error, OSError)


def test_log_bad_config_logs_each_line_and_returns_2() -> None:
    stream = io.StringIO()
    assert log_bad_config(JobLog(stream), ValueError("a.json: bad key\nsecond line")) == 2
    lines = stream.getvalue().splitlines()
    assert lines[-2].endswith("\u2717 Bad config: a.json: bad key")
    assert lines[-1].endswith("\u2717 Bad config: second line")


def test_terminal_progress_is_off_unless_enabled_with_items() -> None:
    for total, enabled in ((10, False), (0, True)):
        with terminal_progress(total, enabled, "things") as advance:
            assert advance is None
    with terminal_progress(3, True, "things") as advance:
        assert advance is not None
        for _ in range(3):
            advance(1)


def test_summary_word_of_each_final_state() -> None:
    assert [summary_word(s) for s in (JobStatus.SUCCEEDED, JobStatus.FAILED,
                                      JobStatus.CANCELLED, JobStatus.RUNNING)] == [
        "COMPLETED", "FINISHED WITH ERRORS", "CANCELLED", "RUNNING"]
