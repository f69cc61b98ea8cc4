"""The hand-off file: a job's inputs, written by the caller, read once by the job.

Format: an uncompressed ``.npz`` (a zip archive) holding ``manifest.json`` and
one ``<name>.npy`` member per array, written with ``allow_pickle=False``.  The
manifest names the format, its version, the job kind and every array with its
dtype and shape, plus whatever plain JSON values the job needs.  Nothing in it
can execute code when loaded: arrays are read with ``allow_pickle=False`` and
object dtypes are refused.

The file gets an unpredictable name and mode 0600 in the private spool folder
``<webpage>/.pytaaa/spool/``.  While it waits for its job it is locked
(``flock``): the caller locks it before it becomes visible and the job inherits
that lock; the job removes the file as soon as it has read it, on success and
on failure.  :func:`cleanup_spool` removes hand-off files nobody holds, i.e.
those orphaned by a caller killed before its job started.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import tempfile
import time
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = [
    "HandoffError",
    "Handoff",
    "HandoffReader",
    "write_handoff",
    "open_handoff",
    "cleanup_spool",
    "WorkDir",
    "read_npy_header",
    "FORMAT",
    "VERSION",
]

FORMAT = "pytaaa-handoff"
VERSION = 1
MANIFEST = "manifest.json"
_COPY_CHUNK = 1 << 20


class HandoffError(ValueError):
    """A hand-off file that cannot be used: missing, corrupt or of the wrong structure."""

    def __init__(self, path: str | os.PathLike[str], message: str) -> None:
        self.path = str(path)
        self.message = message
        super().__init__(f"{self.path}: {message}")


@dataclass
class Handoff:
    """A written hand-off: its path and the descriptor that holds its lock.

    Pass ``lock_fd`` to the job (``pass_fds``) and then :meth:`release` it in
    the caller; :meth:`discard` removes the file when the job could not start.
    """

    path: Path
    lock_fd: int | None

    def release(self) -> None:
        """Close the caller's copy of the lock descriptor."""
        if self.lock_fd is not None:
            fd, self.lock_fd = self.lock_fd, None
            os.close(fd)

    def discard(self) -> None:
        """Remove the file and release the lock."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.release()


def _write_member(zf: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
    """Write ``array`` as the member ``<name>.npy`` (a standard .npy, without a copy)."""
    arr = np.ascontiguousarray(array)
    with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
        np.lib.format.write_array_header_1_0(fh, np.lib.format.header_data_from_array_1_0(arr))
        fh.write(arr.reshape(-1).view(np.uint8).data)


def write_handoff(
    spool_dir: Path, kind: str, values: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
) -> Handoff:
    """Write a locked hand-off file for a job of ``kind`` into ``spool_dir``.

    ``values`` must be JSON-serialisable; ``arrays`` maps simple names to
    numeric arrays (object dtypes raise ``ValueError``).  Returns the
    :class:`Handoff`, whose lock is held by the returned descriptor.  Raises
    ``OSError`` when the file cannot be written (the partial file is removed).
    """
    for name, arr in arrays.items():
        if not name.isidentifier():
            raise ValueError(f"invalid hand-off array name {name!r}")
        if arr.dtype.hasobject:
            raise ValueError(f"hand-off array {name!r} has an object dtype")
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "values": dict(values),
        "arrays": {n: {"dtype": a.dtype.str, "shape": list(a.shape)} for n, a in arrays.items()},
    }
    dest = Path(spool_dir) / f"{kind}-{secrets.token_hex(16)}.npz"
    # Written like every pytaaa file (temporary name in the same folder, then
    # an atomic rename) but not fsynced: a hand-off is a private, transient
    # input that its job deletes within a second, never an output, and the
    # caller must not wait for the disk.  mkstemp creates it with mode 0600.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            zf.writestr(MANIFEST, json.dumps(manifest, sort_keys=True))
            for name, arr in arrays.items():
                _write_member(zf, name, arr)
        os.replace(tmp, dest)
        if os.stat(dest).st_ino != os.fstat(fd).st_ino:
            raise OSError(f"hand-off file {dest} was replaced while being written")
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        os.close(fd)
        raise
    return Handoff(dest, fd)


def read_npy_header(fh: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Read a .npy header from ``fh``: (shape, fortran_order, dtype); ``ValueError`` if bad."""
    major, _minor = np.lib.format.read_magic(fh)
    if major == 1:
        return np.lib.format.read_array_header_1_0(fh)
    if major == 2:
        return np.lib.format.read_array_header_2_0(fh)
    raise ValueError(f"unsupported .npy format version {major}")


class HandoffReader:
    """An opened, structurally validated hand-off file (see :func:`open_handoff`)."""

    def __init__(self, path: Path, zf: zipfile.ZipFile, manifest: dict[str, Any]) -> None:
        self.path = path
        self._zf = zf
        self.manifest = manifest
        self.values: dict[str, Any] = manifest["values"]
        self.arrays: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
        for name, spec in manifest["arrays"].items():
            shape, dtype = self._check_member(name, spec)
            self.arrays[name] = (shape, dtype)

    def _error(self, message: str) -> HandoffError:
        return HandoffError(self.path, message)

    def _check_member(self, name: str, spec: Any) -> tuple[tuple[int, ...], np.dtype]:
        if not isinstance(spec, dict) or "dtype" not in spec or "shape" not in spec:
            raise self._error(f"manifest entry for array {name!r} needs 'dtype' and 'shape'")
        try:
            with self._zf.open(f"{name}.npy") as fh:
                shape, fortran, dtype = read_npy_header(fh)
        except KeyError:
            raise self._error(f"array {name!r} listed in the manifest is missing") from None
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise self._error(f"array {name!r} is unreadable: {exc}") from None
        if dtype.hasobject or fortran:
            raise self._error(f"array {name!r} must be a C-ordered numeric array")
        if dtype.str != spec["dtype"] or list(shape) != list(spec["shape"]):
            raise self._error(
                f"array {name!r} is {dtype.str}{list(shape)}, manifest says "
                f"{spec['dtype']}{spec['shape']}"
            )
        return tuple(shape), dtype

    def load(self, name: str) -> np.ndarray:
        """Read array ``name`` into memory (``allow_pickle=False``); ``HandoffError`` if unreadable."""
        if name not in self.arrays:
            raise self._error(f"missing array {name!r}")
        try:
            with self._zf.open(f"{name}.npy") as fh:
                return np.lib.format.read_array(fh, allow_pickle=False)
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise self._error(f"array {name!r} is unreadable: {exc}") from None

    def copy_to(self, name: str, dest: Path) -> None:
        """Copy array ``name`` as a ``.npy`` file to ``dest`` (streamed, CRC-checked).

        Raises ``HandoffError`` when the member is corrupt, ``OSError`` when
        ``dest`` cannot be written.
        """
        if name not in self.arrays:
            raise self._error(f"missing array {name!r}")
        with self._zf.open(f"{name}.npy") as src, open(dest, "wb") as out:
            try:
                while chunk := src.read(_COPY_CHUNK):
                    out.write(chunk)
            except (zipfile.BadZipFile, EOFError) as exc:
                raise self._error(f"array {name!r} is corrupt: {exc}") from None

    def close(self) -> None:
        self._zf.close()


@contextlib.contextmanager
def open_handoff(path: str | os.PathLike[str], kind: str,
                 fd: int | None = None) -> Iterator[HandoffReader]:
    """Open the hand-off at ``path`` for a job of ``kind``, validate it, then delete it.

    ``fd`` is the descriptor the job inherited from its caller (the one that
    holds the hand-off's lock): the content is read through it, never through
    a name someone could have swapped, and the file at ``path`` is removed
    only if it is still that file.

    Yields a :class:`HandoffReader` whose manifest, array names, dtypes and
    shapes have been checked.  The file is removed when the block ends, whether
    reading succeeded or not.  Raises :class:`HandoffError` with one clear
    message for a missing, unreadable, truncated or garbled file, a manifest of
    the wrong format, version or kind, or an array that does not match it.
    """
    path = Path(path)
    zf = None
    inherited = None
    try:
        try:
            if fd is not None:
                inherited = os.fdopen(os.dup(fd), "rb")
            zf = zipfile.ZipFile(path if inherited is None else inherited)
        except FileNotFoundError:
            raise HandoffError(path, "hand-off file not found") from None
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise HandoffError(path, f"not a hand-off file (corrupt or truncated): {exc}") from None
        try:
            manifest = json.loads(zf.read(MANIFEST).decode("utf-8"))
        except KeyError:
            raise HandoffError(path, f"no {MANIFEST} in the hand-off file") from None
        except (ValueError, zipfile.BadZipFile, OSError, EOFError) as exc:
            raise HandoffError(path, f"unreadable {MANIFEST}: {exc}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise HandoffError(path, f"manifest is not a {FORMAT} manifest")
        if manifest.get("version") != VERSION:
            raise HandoffError(
                path, f"manifest version {manifest.get('version')!r}, expected {VERSION}"
            )
        if manifest.get("kind") != kind:
            raise HandoffError(path, f"hand-off is for job {manifest.get('kind')!r}, not {kind!r}")
        if not isinstance(manifest.get("values"), dict) or not isinstance(
            manifest.get("arrays"), dict
        ):
            raise HandoffError(path, "manifest needs the objects 'values' and 'arrays'")
        reader = HandoffReader(path, zf, manifest)
        yield reader
    finally:
        if zf is not None:
            zf.close()
        if inherited is not None:
            inherited.close()
        with contextlib.suppress(OSError):
            if fd is None or _same_file(path, fd):
                path.unlink()


def _same_file(path: Path, fd: int) -> bool:
    """True when ``path`` names the file open as ``fd`` (same device and inode)."""
    a, b = os.lstat(path), os.fstat(fd)
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


class WorkDir:
    """A job's private folder in the spool (worker data), locked for the job's life.

    Created as ``work-<kind>-<job_id>`` with mode 0700 and a locked ``.lock``
    inside; :func:`cleanup_spool` removes work folders whose lock is free.
    Raises ``OSError`` when the folder cannot be created.
    """

    def __init__(self, spool_dir: Path, kind: str, job_id: str) -> None:
        self.path = Path(spool_dir) / f"work-{kind}-{job_id}"
        self.path.mkdir(mode=0o700)
        self._fd: int | None = os.open(
            self.path / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600
        )
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def remove(self) -> None:
        """Delete the folder and drop its lock."""
        shutil.rmtree(self.path, ignore_errors=True)
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def _take_if_free(lock_file: Path) -> int | None:
    """Open and lock ``lock_file`` if nobody holds it; return the descriptor or None."""
    try:
        fd = os.open(lock_file, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def cleanup_spool(spool_dir: Path, stale_seconds: float = 60.0) -> list[Path]:
    """Remove what dead processes left in ``spool_dir``; return the removed paths.

    A hand-off is locked from before it is visible until its job has read it,
    and a work folder is locked by its job, so an unlocked hand-off (or
    unlocked partial ``.tmp`` file) or work folder was orphaned by a process
    that died.  A work folder without a lock file is removed once it is
    ``stale_seconds`` old.
    """
    removed: list[Path] = []
    try:
        entries = list(Path(spool_dir).iterdir())
    except OSError:
        return removed
    for p in entries:
        if p.is_dir() and p.name.startswith("work-"):
            lock_file = p / ".lock"
            if not lock_file.exists():
                with contextlib.suppress(OSError):
                    if time.time() - p.stat().st_mtime > stale_seconds:
                        shutil.rmtree(p, ignore_errors=True)
                        removed.append(p)
                continue
            target = lock_file
        elif p.is_file() and (p.name.endswith(".npz") or p.name.endswith(".tmp")):
            target = p
        else:
            continue
        fd = _take_if_free(target)
        if fd is None:
            continue
        try:
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink()
            removed.append(p)
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed
