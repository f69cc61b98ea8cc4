"""``pytaaa data``: create a synthetic workspace, import CSV quotes, download quotes,
check a store's data quality (``check [--fix]``).

User mistakes (a bad config, a bad CSV, an existing workspace) end with one
clear line and a non-zero exit status: 2 for a config or usage problem, 1 for
the rest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np

from pytaaa.config import METHODS, ConfigError, load_config
from pytaaa.data.store import (
    StoreError,
    import_csv,
    read_store,
    store_location,
    update_from_yfinance,
)
from pytaaa.data.synth import write_workspace
from pytaaa.model import Quotes

__all__ = ["data"]


class _ConfigProblem(click.ClickException):
    """A config error: exit status 2, like the rest of the CLI."""

    exit_code = 2


def _store_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add ``--json CONFIG`` and ``--symbols-file FILE`` (which store) to a command."""
    command = click.option("--symbols-file", type=click.Path(dir_okay=False, path_type=Path),
                           help="symbols file next to the store (instead of --json)")(command)
    return click.option("--json", "config_path", type=click.Path(dir_okay=False, path_type=Path),
                        help="config whose symbols_file names the store")(command)


def _symbols_file(config_path: Path | None, symbols_file: Path | None) -> Path:
    """The symbols file from ``--json`` or ``--symbols-file`` (exactly one of them)."""
    if (config_path is None) == (symbols_file is None):
        raise click.UsageError("give exactly one of --json CONFIG or --symbols-file FILE")
    if symbols_file is not None:
        return symbols_file
    try:
        return load_config(config_path).valuation.symbols_file  # type: ignore[arg-type]
    except ConfigError as exc:
        raise _ConfigProblem(str(exc)) from None


def _summary(quotes: Quotes, symbols_file: Path) -> str:
    path, key = store_location(symbols_file)
    have = np.isfinite(quotes.close).any(axis=1).sum()
    return (
        f"store {path} (key {key}): {len(quotes.symbols)} symbols ({have} with quotes) x "
        f"{len(quotes.dates)} days, {quotes.dates[0]} .. {quotes.dates[-1]}"
    )


@click.group(name="data")
def data() -> None:
    """Quote store tools: synthetic demo workspace, CSV import, quote download."""


@data.command(name="synth")
@click.option(
    "--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
    default=Path("pytaaa-demo"), show_default=True, help="workspace folder to create",
)
@click.option("--symbols", "n_symbols", type=click.IntRange(1, 600), default=100, show_default=True)
@click.option("--years", type=click.FloatRange(1.0, 100.0), default=35.0, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--method", type=click.Choice(METHODS), default="HMAs", show_default=True)
@click.option("--force", is_flag=True, help="overwrite an existing workspace in --dir")
def synth_command(
    folder: Path, n_symbols: int, years: float, seed: int, method: str, force: bool
) -> None:
    """Write a deterministic synthetic workspace (store, side files, holdings, config)."""
    config_path = folder / "pytaaa.json"
    if config_path.exists() and not force:
        raise click.ClickException(
            f"{folder} already holds a workspace ({config_path}); use --force to overwrite it"
        )
    try:
        written = write_workspace(
            folder, n_symbols=n_symbols, years=years, seed=seed, method=method
        )
    except OSError as exc:
        raise click.ClickException(
            f"cannot write the workspace in {folder}: {exc.strerror or exc}"
        ) from None
    config = load_config(written)
    click.echo(f"Wrote a synthetic workspace in {folder.resolve()}")
    click.echo(_summary(read_store(config.valuation.symbols_file), config.valuation.symbols_file))
    click.echo(f"config: {written.resolve()}")
    click.echo(f"next:   pytaaa run --json {written.resolve()}")


@data.command(name="import-csv")
@_store_options
@click.option("--replace", is_flag=True, help="replace the store instead of merging into it")
@click.option("--date-format", default=None,
              help="strptime format of the dates when they are ambiguous, e.g. %d/%m/%Y")
@click.option("--price-column", default=None,
              help="the price column (default: Adj Close, Close, Price, Value, the only one)")
@click.option("--ticker", default=None, help="ticker of a single file not named after it")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def import_csv_command(
    config_path: Path | None, symbols_file: Path | None, replace: bool, date_format: str | None,
    price_column: str | None, ticker: str | None, files: tuple[Path, ...]
) -> None:
    """Import prices from CSV FILES (Yahoo, Stooq, Investing, FRED, one per ticker, or one
    wide file with a column per ticker)."""
    target = _symbols_file(config_path, symbols_file)
    try:
        quotes = import_csv(list(files), target, merge=not replace, date_format=date_format,
                            price_column=price_column, ticker=ticker)
    except StoreError as exc:  # a bad input file: exit 2, nothing written
        raise _ConfigProblem(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot write the store next to {target}: {exc.strerror}") from None
    click.echo(f"Imported {len(files)} file(s); {_summary(quotes, target)}")


@data.command(name="update")
@_store_options
@click.option("--start", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="first date to download (default: shortly before the store's last date)")
def update_command(
    config_path: Path | None, symbols_file: Path | None, start: dt.datetime | None
) -> None:
    """Download new quotes with yfinance (pytaaa[download]) and merge them into the store."""
    target = _symbols_file(config_path, symbols_file)
    try:
        quotes = update_from_yfinance(target, start=start.date() if start else None)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot write the store next to {target}: {exc.strerror}") from None
    click.echo(f"Updated; {_summary(quotes, target)}")


@data.command(name="check")
@_store_options
@click.option("--store", "store_file", type=click.Path(dir_okay=False, path_type=Path),
              help="an HDF5 store file to check directly (its key is named after the file)")
@click.option("--fix", is_flag=True,
              help="repair bad prints, split ratios, duplicates and bad values (backup first)")
@click.option("--stale-days", type=click.IntRange(1, 250), default=None,
              help="trading days without a quote before a symbol is stale (config or 5)")
@click.option("--as-json", "as_json", is_flag=True, help="print the findings as JSON")
def check_command(config_path: Path | None, symbols_file: Path | None, store_file: Path | None,
                  fix: bool, stale_days: int | None, as_json: bool) -> None:
    """List every data-quality finding of a quote store (exit 0 clean, 1 findings, 2 unreadable)."""
    import json
    import sys

    from pytaaa.data.check import run_check

    if store_file is not None:
        if config_path is not None or symbols_file is not None:
            raise click.UsageError("give --store FILE alone, or --json / --symbols-file")
        if not store_file.name.endswith("_.hdf5"):
            raise _ConfigProblem(f"{store_file}: expected a store named <List>_.hdf5")
        target = store_file.with_name(store_file.name[: -len("_.hdf5")] + ".txt")
    else:
        target = _symbols_file(config_path, symbols_file)
    if stale_days is None:
        stale_days = 5
        if config_path is not None:
            stale_days = load_config(config_path).valuation.stale_quote_days
    try:
        outcome = run_check(target, stale_days=stale_days, fix=fix, now=dt.datetime.now())
    except StoreError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(f"error: cannot write the store next to {target}: {exc.strerror}", err=True)
        sys.exit(2)
    report = outcome.report
    if as_json:
        click.echo(json.dumps({"summary": report.summary(),
                               "findings": [f.as_dict() for f in report.findings],
                               "backup": str(outcome.backup) if outcome.backup else None,
                               "changes": outcome.changes}, indent=2))
    else:
        for f in report.findings:
            size = f"{f.size:g}"
            when = f.start.isoformat() if f.start else "-"
            if f.end and f.end != f.start:
                when += f" .. {f.end.isoformat()}"
            click.echo(f"{f.symbol or '(store)':<10} {f.kind:<16} {when:<24} {size:>8}  {f.detail}")
        if outcome.backup is not None:
            click.echo(f"backup of the store: {outcome.backup}")
            for line in outcome.changes:
                click.echo(f"fixed: {line}")
            if not outcome.changes:
                click.echo("nothing to repair")
        click.echo(report.summary())
    sys.exit(0 if report.clean else 1)
