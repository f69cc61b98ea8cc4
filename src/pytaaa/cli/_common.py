"""Helpers every command module shares: logging set-up and config loading."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

if TYPE_CHECKING:
    from pytaaa.config import Config
    from pytaaa.jobs.runtime import JobStart

__all__ = ["load_config_or_exit", "scheduler_or_exit", "setup_logging", "exit_with_start"]


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = super().format(record)
        if record.levelno >= logging.WARNING:
            msg = f"{record.levelname.lower()}: {msg}"
        return msg


def setup_logging(verbose: bool = False) -> None:
    """Log ``[HH:MM:SS] message`` lines to stderr (INFO, or DEBUG when verbose)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter("[%(asctime)s] %(message)s", datefmt="%H:%M:%S"))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("matplotlib", "PIL", "numexpr", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def load_config_or_exit(path: str | Path) -> Config:
    """Load a config for a command; a bad config exits with status 2 and its problems."""
    from pytaaa.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as err:
        for line in str(err).splitlines():
            click.echo(f"error: {line}", err=True)
        sys.exit(2)


def scheduler_or_exit(address: str | None) -> str | None:
    """A Dask scheduler address checked for a command (None stays None); a
    malformed one prints one line and exits with status 2."""
    if not address:
        return None
    from pytaaa.jobs.dask_pool import check_address

    try:
        return check_address(address)
    except ValueError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)


def exit_with_start(label: str, res: JobStart, json_path: str, apply_hint: str) -> NoReturn:
    """Report what starting a search job did and exit with its status.

    Prints ``label: <what happened>``; after a successful in-process run also
    ``apply_hint``, after a detached start how to watch it.  Exits with the
    run's code (sync), 1 when the job could not be started, else 0.
    """
    click.echo(f"{label}: {res.describe()}")
    if res.mode == "sync":
        if res.exit_code == 0:
            click.echo(apply_hint)
        sys.exit(res.exit_code or 0)
    if res.mode == "async":
        click.echo(f"Progress: pytaaa jobs --json {json_path}")
    sys.exit(1 if res.mode == "failed" else 0)
