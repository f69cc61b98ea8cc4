"""The human-readable log of a background job.

A job log is a stream of ``[HH:MM:SS] message`` lines (seed 000, Appendix B)
that ``tail -f`` shows live: every line is written and flushed at once.  A
detached job writes its lines to its standard output, which the spawner has
pointed at ``<webpage>/<log name>``; a job run in the calling process (sync
mode) opens that file itself.  Each job starts a new log and the previous one
is kept as ``<name>.1``.

The log is the one file of pytaaa that is not replaced atomically: it is an
append-only stream that must be readable while it grows.  Callers never pass
secrets to it (the hand-off carries none).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = ["JobLog", "rotate_log", "open_log_for_append"]

RULE = "=" * 40


def rotate_log(path: Path) -> None:
    """Keep the current log at ``path`` as ``<path>.1`` (replacing an older ``.1``).

    Reads nothing; renames ``path`` if it is a file (anything else is left for
    the open to report).  A job still writing to the old file keeps writing to
    it under its new name.  Raises ``OSError`` when the folder cannot be written.
    """
    if path.is_file():
        os.replace(path, path.with_name(path.name + ".1"))


def open_log_for_append(path: Path) -> IO[bytes]:
    """Open ``path`` for unbuffered appending (created with mode 0644).

    Returns a binary file object; raises ``OSError`` when the file cannot be
    created (missing or read-only folder).
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
    return os.fdopen(fd, "ab", buffering=0)


class JobLog:
    """Writes timestamped lines to a text or binary stream, flushing each one.

    ``clock`` returns the local time used for the ``[HH:MM:SS]`` prefix (the
    wall clock unless a test injects one).  Write errors on the stream (disk
    full, closed pipe) are swallowed after the first one: a job must not die
    because its log cannot be written.
    """

    def __init__(
        self,
        stream: IO[str] | IO[bytes],
        *,
        clock: Callable[[], dt.datetime] = dt.datetime.now,
    ) -> None:
        self._stream = stream
        self._binary = isinstance(stream, (io.RawIOBase, io.BufferedIOBase))
        self._clock = clock
        self._broken = False
        self.lines_written = 0

    def line(self, message: str) -> None:
        """Write ``[HH:MM:SS] message`` and flush it."""
        stamp = self._clock().strftime("%H:%M:%S")
        text = f"[{stamp}] {message}\n"
        if self._broken:
            return
        try:
            if self._binary:
                self._stream.write(text.encode("utf-8"))  # type: ignore[arg-type]
            else:
                self._stream.write(text)  # type: ignore[arg-type]
            self._stream.flush()
            self.lines_written += 1
        except (OSError, ValueError):
            self._broken = True

    def item(self, mark: str, text: str) -> None:
        """Write one per-item line: ``  <mark> <text>`` (``✓``, ``–`` or ``✗``)."""
        self.line(f"  {mark} {text}")

    def rule(self) -> None:
        """Write a separator line of ``=``."""
        self.line(RULE)

    def close(self) -> None:
        """Close the stream (errors ignored)."""
        with contextlib.suppress(OSError, ValueError):
            self._stream.close()

