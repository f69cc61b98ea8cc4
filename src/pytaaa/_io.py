"""Atomic file writes.

Every file pytaaa produces goes through these helpers: the content is written
to a temporary file in the destination folder, flushed to disk and renamed over
the destination.  A crash at any moment therefore leaves either the old file or
the new one, never a half-written one, and a failed write (disk full, read-only
folder) removes its temporary file before the error propagates.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "append_text"]


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str], mode: int = 0o644) -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; rename it onto ``dest`` on success.

    The caller writes the temporary file however it likes (``fig.savefig``,
    ``np.savez``...).  On normal exit the file is fsynced, given ``mode`` and
    renamed into place; on an exception it is removed and the exception
    propagates.  Raises ``OSError`` when the folder is missing or not writable.
    """
    dest = Path(dest)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


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


def append_text(dest: str | os.PathLike[str], text: str) -> None:
    """Append ``text`` to ``dest`` atomically: read, extend, write a new file, rename.

    Append-only history files (status, diagnostic) are small, so rewriting
    them keeps the "old or new, never half" guarantee of the other outputs.
    """
    dest = Path(dest)
    old = dest.read_bytes() if dest.exists() else b""
    atomic_write_bytes(dest, old + text.encode("utf-8"))
