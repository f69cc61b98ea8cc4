"""Atomic file writes.

Every file pytaaa produces goes through these helpers: the content is written
to a temporary file in the destination folder, flushed to disk and renamed over
the destination.  A crash at any moment therefore leaves either the old file or
the new one, never a half-written one, and a failed write (disk full, read-only
folder) removes its temporary file before the error propagates.

Append-only ledgers (status, diagnostic, holdings) go through
:func:`update_file`: the read-modify-rename runs under an exclusive lock on
the file's folder, so overlapping runs lose no line; a symlinked ledger is
updated at its target and the file keeps its permission bits.  Temporary
files left by a killed process (``.<name>.<8 chars>.tmp``) are removed by
:func:`remove_stale_temporaries`.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "append_text",
    "folder_lock",
    "update_file",
    "remove_stale_temporaries",
    "decode_text",
    "newline_of",
]

#: The names :func:`atomic_path` gives its temporary files (``mkstemp``: 8 random characters).
_TMP_RE = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str], mode: int = 0o644) -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; rename it onto ``dest`` on success.

    The caller writes the temporary file however it likes (``fig.savefig``,
    ``np.savez``...).  On normal exit the file is fsynced, given ``mode`` and
    renamed into place; on an exception it is removed and the exception
    propagates.  Raises ``OSError`` naming ``dest`` when the folder is
    missing or not writable or the disk is full.
    """
    dest = Path(dest)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    except OSError as exc:
        raise _naming(exc, dest) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, dest)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        if isinstance(exc, OSError) and exc.filename in (None, tmp, str(tmp_path)):
            raise _naming(exc, dest) from exc
        raise


def _naming(exc: OSError, dest: Path) -> OSError:
    """``exc`` again, naming ``dest`` (not the temporary file, or nothing, as it did)."""
    if exc.errno is None:
        return exc
    return type(exc)(exc.errno, exc.strerror, str(dest))


def atomic_write_bytes(dest: str | os.PathLike[str], data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``dest`` atomically (temporary file + rename)."""
    with atomic_path(dest, mode) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)


def atomic_write_text(
    dest: str | os.PathLike[str], text: str, mode: int = 0o644, newline: str = "\n"
) -> None:
    """Write ``text`` (UTF-8) to ``dest`` atomically; ``newline`` replaces ``\\n``."""
    if newline != "\n":
        text = text.replace("\n", newline)
    atomic_write_bytes(dest, text.encode("utf-8"), mode)


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the folder ``folder`` itself for the ``with`` block.

    Every process (and every thread: the lock belongs to the open descriptor)
    that updates a ledger in that folder waits here, so read-modify-rename
    updates never overlap.  The kernel drops the lock if the holder dies.  On
    systems without ``fcntl`` (Windows) the block runs unlocked.  Raises
    ``OSError`` when the folder cannot be opened.
    """
    if sys.platform == "win32":  # pragma: no cover - no flock there
        yield
        return
    import fcntl

    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def update_file(
    dest: str | os.PathLike[str], change: Callable[[bytes | None], bytes | None],
    mode: int = 0o644,
) -> bool:
    """Replace the content of ``dest`` by ``change(old)`` under the folder's lock.

    ``old`` is the current content (None when the file does not exist);
    ``change`` returns the new content, or None to leave the file alone.  A
    symlink is followed: the target is updated and the link stays a link.  An
    existing file keeps its permission bits; a new one gets ``mode``.  Returns
    True when the file was written.  Raises ``OSError`` when it cannot be read
    or written.
    """
    real = Path(os.path.realpath(dest))
    with folder_lock(real.parent):
        try:
            old: bytes | None = real.read_bytes()
            keep = stat.S_IMODE(os.stat(real).st_mode)
        except FileNotFoundError:
            old, keep = None, mode
        new = change(old)
        if new is None:
            return False
        atomic_write_bytes(real, new, keep)
        return True


def append_text(dest: str | os.PathLike[str], text: str) -> None:
    """Append ``text`` (UTF-8) to ``dest`` atomically, serialized with other appenders.

    Append-only history files (status, diagnostic) are small, so rewriting
    them keeps the "old or new, never half" guarantee of the other outputs;
    see :func:`update_file` for the lock, symlinks and permissions.
    """
    data = text.encode("utf-8")
    update_file(dest, lambda old: (old or b"") + data)


def remove_stale_temporaries(folder: str | os.PathLike[str], max_age: float = 900.0) -> int:
    """Remove temporary files of :func:`atomic_path` older than ``max_age`` seconds.

    A process killed between ``mkstemp`` and the rename leaves
    ``.<name>.<8 chars>.tmp`` behind; younger ones may belong to a writer that
    is still running and are kept.  Only regular files of that naming in
    ``folder`` itself are touched.  Returns how many were removed; a missing or
    unreadable folder removes nothing.
    """
    removed = 0
    cutoff = time.time() - max_age
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if not _TMP_RE.match(entry.name):
            continue
        with contextlib.suppress(OSError):
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(st.st_mode) and st.st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
    return removed


def decode_text(data: bytes) -> str:
    """The text of a ledger or params file: UTF-8 (a BOM dropped), else Latin-1."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def newline_of(data: bytes) -> str:
    """The line ending a file already uses (LF when it has none)."""
    for nl in (b"\r\n", b"\n", b"\r"):
        if nl in data:
            return nl.decode()
    return "\n"
