"""The ``pytaaa`` command line.

``pytaaa run --json CFG`` is the daily run; ``pytaaa demo`` builds a synthetic
workspace and runs it.  Other commands (``charts``, ``montecarlo``, ``jobs``,
``data``, ``serve``) are registered at the end of this module from the modules
that implement them.

User mistakes (bad config, missing store, bad arguments) print one clear
message and exit with status 2; nothing is written.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from pytaaa import __version__
from pytaaa.cli._common import load_config_or_exit, setup_logging

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pytaaa")
@click.option("-v", "--verbose", is_flag=True, help="More log output.")
def main(verbose: bool) -> None:
    """pytaaa: tactical asset allocation advisor.

    Daily: `pytaaa run --json CONFIG`.  First time: `pytaaa demo`.
    """
    setup_logging(verbose)


@main.command()
@click.option("--json", "json_path", required=True, type=click.Path(dir_okay=False),
              help="PyTAAA JSON config file.")
@click.option("--sync", "mode", flag_value="sync", default=None,
              help="Draw charts and run the Monte Carlo backtest in this process.")
@click.option("--async", "mode", flag_value="async",
              help="Run both background jobs detached (returns at once).")
@click.option("--force", is_flag=True, help="Redraw charts and rerun Monte Carlo even if fresh.")
@click.option("--no-email", is_flag=True, help="Do not send the email even if configured.")
@click.option("-q", "--quiet", is_flag=True,
              help="No stage log, progress or summary: only warnings, errors and problems (cron).")
def run(json_path: str, mode: str | None, force: bool, no_email: bool, quiet: bool) -> None:
    """The daily run: signals, ranking, backtest, outputs, web page, background jobs."""
    from pytaaa.pipeline import RunError, daily_run

    if quiet:
        logging.getLogger().setLevel(logging.WARNING)
    cfg = load_config_or_exit(json_path)
    sync = None if mode is None else mode == "sync"
    try:
        result = daily_run(cfg, sync=sync, force=force, send_email=not no_email)
    except RunError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    if quiet:
        for problem in result.problems:
            click.echo(f"problem: {problem}")
    else:
        click.echo(result.summary())
    sys.exit(result.exit_code)


@main.command()
@click.option("--dir", "folder", default="demo", show_default=True,
              type=click.Path(file_okay=False), help="Workspace folder to create or reuse.")
@click.option("--symbols", type=int, default=None,
              help="Synthetic symbols [default: 100].")
@click.option("--years", type=float, default=None,
              help="Years of synthetic history [default: 35; 30 with --models].")
@click.option("--method", default="HMAs", show_default=True,
              type=click.Choice(["SMAs", "HMAs", "minmaxChannels", "percentileChannels"]))
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait for the background jobs and show their progress.")
@click.option("--models", "several", is_flag=True,
              help="Four models and a model-switching account (pytaaa models run).")
def demo(folder: str, symbols: int | None, years: float | None, method: str, wait: bool,
         several: bool) -> None:
    """Create a synthetic workspace, run the daily run with both background jobs."""
    from pytaaa.pipeline import RunError, run_demo

    if several:
        from pytaaa.cli.models import run_models_demo

        sys.exit(run_models_demo(Path(folder), n_symbols=symbols or 100, years=years or 30.0,
                                 wait=wait))
    symbols, years = symbols or 100, years or 35.0

    try:
        result = run_demo(Path(folder), n_symbols=symbols, years=years, method=method, wait=wait)
    except RunError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    click.echo(result.summary())
    sys.exit(result.exit_code)


def _register() -> None:
    """Add the commands that live next to the features they drive."""
    import pytaaa.cli.lookback  # noqa: F401  (adds `models search` and `models apply`)
    from pytaaa.cli.data import data
    from pytaaa.cli.jobs import charts, jobs
    from pytaaa.cli.models import models
    from pytaaa.cli.montecarlo import montecarlo
    from pytaaa.cli.optimize import optimize
    from pytaaa.cli.serve import serve

    for cmd in (data, charts, jobs, models, montecarlo, optimize, serve):
        main.add_command(cmd)


_register()
