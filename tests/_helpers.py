"""Small helpers shared by the process tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def descendants(pid: int) -> list:
    """The live descendants of ``pid`` (``psutil.Process`` list), [] once ``pid`` is
    gone.  psutil raises when a descendant exits during the walk: walk again."""
    import psutil

    for _ in range(200):
        try:
            return psutil.Process(pid).children(recursive=True)
        except psutil.NoSuchProcess:
            if not psutil.pid_exists(pid):
                return []
            time.sleep(0.01)
    raise AssertionError(f"the process tree of {pid} kept changing during 200 walks")


def wait_for(pred: Callable[[], T], timeout: float = 90.0, step: float = 0.02) -> T:
    """Poll ``pred`` until it returns something truthy; fail the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not reached in time")
