"""Atomic writes and ledger updates: overlapping appenders lose nothing, symlinks and
permission bits survive, stale temporaries of a killed writer are removed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from pytaaa._io import (
    append_text,
    atomic_write_text,
    remove_stale_temporaries,
    update_file,
)

APPENDER = """
import sys
from pytaaa._io import append_text
path, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    append_text(path, f"{tag} {i}\\n")
"""


def test_overlapping_appenders_keep_every_line(tmp_path: Path) -> None:
    dest = tmp_path / "ledger.params"
    for rnd in range(3):
        procs = [subprocess.Popen([sys.executable, "-c", APPENDER, str(dest), f"r{rnd}p{p}", "40"])
                 for p in range(4)]
        assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    lines = dest.read_text().splitlines()
    assert len(lines) == 3 * 4 * 40
    assert set(lines) == {f"r{r}p{p} {i}" for r in range(3) for p in range(4) for i in range(40)}
    for r in range(3):  # each writer's lines stay in its own order
        for p in range(4):
            mine = [ln for ln in lines if ln.startswith(f"r{r}p{p} ")]
            assert mine == [f"r{r}p{p} {i}" for i in range(40)]


def test_append_writes_through_a_symlink_and_keeps_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "real" / "PyTAAA_status.params"
    target.parent.mkdir()
    target.write_text("[Status]\n")
    os.chmod(target, 0o600)
    link = tmp_path / "PyTAAA_status.params"
    link.symlink_to(target)
    old_umask = os.umask(0o022)
    try:
        append_text(link, "line 1\n")
        append_text(link, "line 2\n")
    finally:
        os.umask(old_umask)
    assert link.is_symlink()
    assert target.read_text() == "[Status]\nline 1\nline 2\n"
    assert (target.stat().st_mode & 0o777) == 0o600
    assert not list(tmp_path.rglob("*.tmp"))


def test_update_file_can_leave_the_file_alone(tmp_path: Path) -> None:
    dest = tmp_path / "f"
    assert update_file(dest, lambda old: None) is False
    assert not dest.exists()
    assert update_file(dest, lambda old: b"x" if old is None else old + b"y", mode=0o600)
    assert dest.read_bytes() == b"x" and (dest.stat().st_mode & 0o777) == 0o600


def test_stale_temporaries_of_our_naming_are_removed(tmp_path: Path) -> None:
    stale = tmp_path / ".pyTAAAweb_symbolCharts_TodayRank.html.k3_x9qzz.tmp"
    fresh = tmp_path / ".PyTAAA_status.params.abcdefgh.tmp"
    other = tmp_path / "notes.tmp"  # not ours
    for p in (stale, fresh, other):
        p.write_bytes(b"x" * 16)
    old = time.time() - 3600
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    assert remove_stale_temporaries(tmp_path) == 1
    assert not stale.exists() and fresh.exists() and other.exists()
    atomic_write_text(tmp_path / "a.txt", "a")
    assert remove_stale_temporaries(tmp_path / "missing") == 0
