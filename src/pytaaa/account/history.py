"""The status history: ``PyTAAA_status.params`` (``pipeline.md`` section 8).

``[Status]`` then lines
``cumu_value: <YYYY-MM-DD> <HH:MM:SS[.ffffff]> <value> <signal 0/1> <timed value>``.
Older 4-token (no timed value) and 3-token (value only) lines are accepted;
the signal and timed value are recomputed from the values anyway
(:func:`timing_signal`).  A line that cannot be read is skipped with a warning
naming the file and line.

Appends go through :func:`pytaaa._io.update_file` (temporary file + rename,
serialized by a lock on the folder) and keep the file's line endings.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pytaaa._io import decode_text, newline_of, update_file
from pytaaa.engine.indicators import minmax_channel, sma

__all__ = [
    "STATUS_FILE",
    "TIMING_PERIODS",
    "StatusEntry",
    "StatusHistory",
    "read_status",
    "parse_status",
    "timing_signal",
    "next_status_entry",
    "format_status_line",
    "append_status",
]

log = logging.getLogger(__name__)

STATUS_FILE = "PyTAAA_status.params"
#: Channel periods of the status-history timing signal (pipeline.md section 8).
TIMING_PERIODS = (5, 9, 13, 17)


@dataclass(frozen=True)
class StatusEntry:
    """One ``cumu_value`` line: time, holdings value, timing signal and timed value.

    ``signal``/``timed_value`` are None when an old line did not have them.
    ``when`` is naive local time (the file has no zone): an aware time is
    converted on construction, so entries always compare.
    """

    when: dt.datetime
    value: float
    signal: int | None = None
    timed_value: float | None = None

    def __post_init__(self) -> None:
        if self.when.tzinfo is not None:
            object.__setattr__(self, "when", self.when.astimezone().replace(tzinfo=None))


@dataclass(frozen=True)
class StatusHistory:
    """The status history in file order."""

    entries: tuple[StatusEntry, ...] = ()

    @property
    def last(self) -> StatusEntry | None:
        """The most recent entry (latest time), or None for an empty history."""
        if not self.entries:
            return None
        return max(enumerate(self.entries), key=lambda ie: (ie[1].when, ie[0]))[1]

    def daily_entries(self) -> list[StatusEntry]:
        """The last entry (latest time, then file order) of each calendar day, in date order."""
        per_day: dict[dt.date, StatusEntry] = {}
        order = sorted(range(len(self.entries)), key=lambda i: (self.entries[i].when, i))
        for i in order:
            e = self.entries[i]
            per_day[e.when.date()] = e
        return [per_day[d] for d in sorted(per_day)]

    def daily(self) -> tuple[np.ndarray, np.ndarray]:
        """The last value of each calendar day, in date order: ``(dates datetime64[D], values)``."""
        entries = self.daily_entries()
        dates = np.array([np.datetime64(e.when.date(), "D") for e in entries],
                         dtype="datetime64[D]")
        values = np.array([e.value for e in entries], dtype=np.float64)
        return dates, values

    def with_entry(self, entry: StatusEntry) -> StatusHistory:
        """A new history with ``entry`` appended."""
        return StatusHistory(self.entries + (entry,))


def parse_status(text: str, path: Path | str = "<status>") -> StatusHistory:
    """Parse the text of a status file (rules in the module docstring).

    Returns a :class:`StatusHistory`; unreadable lines are skipped with a
    warning naming the file and line.  Never raises for bad content.
    """
    entries: list[StatusEntry] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, sep, rest = line.partition(":")
        if not sep or key.strip().lower() != "cumu_value":
            log.warning("%s: line %d: not a 'cumu_value:' line; skipped", path, lineno)
            continue
        tokens = rest.split()
        try:
            if len(tokens) < 3:
                raise ValueError("expected date, time and value")
            hms, dot, frac = tokens[1].partition(".")  # Python 3.10: 0 or 6 digits
            frac = frac.ljust(6, "0") if dot else ""
            when = dt.datetime.fromisoformat(f"{tokens[0]}T{hms}{dot}{frac}")
            value = float(tokens[2])
            if not math.isfinite(value):
                raise ValueError("value is not finite")
            signal = int(float(tokens[3])) if len(tokens) > 3 else None
            timed = float(tokens[4]) if len(tokens) > 4 else None
        except ValueError as exc:
            log.warning("%s: line %d: cannot read %r (%s); skipped", path, lineno, line, exc)
            continue
        entries.append(StatusEntry(when, value, signal, timed))
    return StatusHistory(tuple(entries))


def read_status(path: str | Path) -> StatusHistory:
    """Read ``PyTAAA_status.params``; a missing file is an empty history.

    Raises ``OSError`` only when an existing file cannot be read.
    """
    path = Path(path)
    if not path.exists():
        return StatusHistory()
    data = path.read_bytes()
    return parse_status(decode_text(data), path)


def timing_signal(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Timing signal and timed value of a daily value series (``pipeline.md`` section 8).

    ``values`` is the last status value of each calendar day, in date order.
    mid = (low + high) / 2 of the min/max channel averaged over
    :data:`TIMING_PERIODS`; m = SMA(mid, 5); signal = 0 where m > mid else 1
    (the first point is 1).  TV_0 = v_0, TV_k = TV_{k-1} * (1 + (v_k/v_{k-1} - 1)
    * signal_{k-1}).  Returns ``(signal int8, timed float64)``, both of the
    length of ``values`` (empty for an empty input).
    """
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    if n == 0:
        return np.zeros(0, dtype=np.int8), np.zeros(0)
    low, high = minmax_channel(v, TIMING_PERIODS)
    mid = (low + high) / 2.0
    m = sma(mid, 5)
    signal = np.where(m > mid, 0, 1).astype(np.int8)
    signal[0] = 1
    timed = np.empty(n)
    timed[0] = v[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(v[:-1] != 0, v[1:] / v[:-1] - 1.0, 0.0)
    factor = 1.0 + gain * signal[:-1]
    timed[1:] = v[0] * np.cumprod(factor)
    return signal, timed


def next_status_entry(history: StatusHistory, when: dt.datetime, value: float) -> StatusEntry:
    """The entry a run at ``when`` with holdings ``value`` appends to ``history``.

    Its signal and timed value are those of the last day of the daily series
    of ``history`` plus this value (it replaces an earlier value of the same
    day).  An aware ``when`` becomes naive local time (see :class:`StatusEntry`).
    Raises ``ValueError`` for a value that is not finite.
    """
    if not math.isfinite(value):
        raise ValueError(f"status value must be finite, got {value}")
    provisional = StatusEntry(when, float(value))
    _, values = history.with_entry(provisional).daily()
    signal, timed = timing_signal(values)
    return StatusEntry(when, float(value), int(signal[-1]), float(timed[-1]))


def format_status_line(entry: StatusEntry) -> str:
    """``cumu_value: <date> <HH:MM:SS.ffffff> <value> <signal> <timed value>`` (no newline)."""
    when = entry.when
    parts = [
        "cumu_value:",
        when.date().isoformat(),
        when.strftime("%H:%M:%S.%f"),
        f"{entry.value:.2f}",
    ]
    if entry.signal is not None:
        parts.append(str(int(entry.signal)))
        if entry.timed_value is not None:
            parts.append(f"{entry.timed_value:.2f}")
    return " ".join(parts)


def append_status(path: str | Path, entry: StatusEntry) -> None:
    """Append ``entry`` to the status file at ``path`` atomically.

    Creates the file with its ``[Status]`` header when missing; keeps the
    file's line endings, permissions and symlink; overlapping appends are
    serialized (:func:`pytaaa._io.update_file`).  Raises ``OSError`` when it
    cannot be written.
    """
    line = format_status_line(entry)

    def _append(data: bytes | None) -> bytes:
        data = data or b""
        nl = newline_of(data)
        text = ""
        if not data.strip():
            data, text = b"", "[Status]\n"
        elif not data.endswith((b"\n", b"\r")):
            text = "\n"
        text += line + "\n"
        return data + text.replace("\n", nl).encode("utf-8")

    update_file(path, _append)
