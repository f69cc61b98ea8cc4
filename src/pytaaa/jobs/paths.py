"""Where a background job keeps its state, for one web site folder.

Everything a job of kind ``K`` needs to coordinate with other runs lives in
``<webpage>/.pytaaa/`` (mode 0700): the lock ``K.lock``, the owner record
``K.owner.json``, the status ``K.json``, a cancel request ``K.cancel`` and the
private spool folder ``spool/`` for hand-off files and worker data.  The web
page reads ``<webpage>/pytaaa_job_K.js``, which mirrors the status.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

__all__ = ["JobPaths", "STATE_DIR_NAME", "UnsafeStateError", "check_private", "validate_kind"]

STATE_DIR_NAME = ".pytaaa"
_KIND_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class UnsafeStateError(PermissionError):
    """A state folder or lock file that another local user could tamper with."""

    def __init__(self, path: Path, found: str) -> None:
        expected = "file" if str(path).endswith(".lock") else "folder"
        uid = os.geteuid() if hasattr(os, "geteuid") else "?"
        super().__init__(errno.EPERM, f"{found}: expected a {expected} owned by you (uid {uid}) "
                         "that others cannot write; remove it and run again", str(path))

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def check_private(path: Path, st: os.stat_result, *, folder: bool) -> None:
    """Raise :class:`UnsafeStateError` unless ``st`` (an ``lstat`` of ``path``) is a folder
    (``folder``) or regular file of the current user that group and others cannot write."""
    kind_ok = stat.S_ISDIR(st.st_mode) if folder else stat.S_ISREG(st.st_mode)
    if not kind_ok:
        what = "a symlink" if stat.S_ISLNK(st.st_mode) else "something else"
        raise UnsafeStateError(path, f"found {what}")
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        raise UnsafeStateError(path, f"owned by uid {st.st_uid}")
    if st.st_mode & 0o022:
        raise UnsafeStateError(path, f"writable by others (mode {stat.S_IMODE(st.st_mode):04o})")


def validate_kind(kind: str) -> str:
    """Return ``kind`` if it is a valid job kind name (``[a-z][a-z0-9_]*``); raise ``ValueError``."""
    if not _KIND_RE.match(kind):
        raise ValueError(f"invalid job kind {kind!r}: expected lower-case letters, digits, '_'")
    return kind


@dataclass(frozen=True)
class JobPaths:
    """The state files of job kind ``kind`` for the site folder ``webpage``."""

    webpage: Path
    kind: str

    def __post_init__(self) -> None:
        validate_kind(self.kind)
        object.__setattr__(self, "webpage", Path(os.path.abspath(self.webpage)))

    @property
    def state_dir(self) -> Path:
        return self.webpage / STATE_DIR_NAME

    @property
    def spool_dir(self) -> Path:
        return self.state_dir / "spool"

    @property
    def lock(self) -> Path:
        return self.state_dir / f"{self.kind}.lock"

    @property
    def owner(self) -> Path:
        return self.state_dir / f"{self.kind}.owner.json"

    @property
    def status(self) -> Path:
        return self.state_dir / f"{self.kind}.json"

    @property
    def cancel(self) -> Path:
        return self.state_dir / f"{self.kind}.cancel"

    @property
    def status_js(self) -> Path:
        return self.webpage / f"pytaaa_job_{self.kind}.js"

    def ensure_state_dirs(self) -> None:
        """Create ``.pytaaa/`` and ``.pytaaa/spool/`` (mode 0700) if missing.

        Raises :class:`UnsafeStateError` when either exists but is not a folder
        of the current user closed to others (someone else could swap hand-off
        files or forge owner records), ``OSError`` when they cannot be created
        (missing parent, read-only folder, a file in the way).
        """
        for d in (self.state_dir, self.spool_dir):
            try:
                d.mkdir(mode=0o700)
            except FileExistsError:
                pass
            check_private(d, os.lstat(d), folder=True)
