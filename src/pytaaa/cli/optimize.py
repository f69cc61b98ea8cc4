"""Click command ``pytaaa optimize``: the strategy parameter search, and ``optimize apply``.

Registered in :mod:`pytaaa.cli.app`.  ``pytaaa optimize --json MODEL`` starts
the search as a background job (``--sync``: in this process, with the job's
exit status: 0 all trials done, 1 a trial failed or the Dask scheduler could
not be reached, 2 bad store or config).  ``pytaaa optimize apply --json MODEL
--row N`` writes trial N of the trials CSV into the config after a backup.
A bad config or argument exits 2 with one message; nothing is written.
"""

from __future__ import annotations

import sys

import click

__all__ = ["optimize"]


@click.group(invoke_without_command=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False),
              help="The model's PyTAAA JSON config file.")
@click.option("--trials", type=click.IntRange(1, 100_000), default=None,
              help="Number of trials, trial 0 = the config (default 250).")
@click.option("--seed", type=click.IntRange(0), default=None,
              help="Random seed (default: montecarlo_seed).")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Local worker processes (default: montecarlo_workers).")
@click.option("--sync", "mode", flag_value="sync", default=None,
              help="Run in this process and wait.")
@click.option("--async", "mode", flag_value="async", help="Start a detached job (default).")
@click.option("--insample-years", type=click.FloatRange(0.25, 100), default=10.0,
              show_default=True, help="Walk-forward: years to choose the best trial on.")
@click.option("--outofsample-years", type=click.FloatRange(0.1, 100), default=1.0,
              show_default=True, help="Walk-forward: years to evaluate it on, then roll on.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Dask scheduler (tcp://HOST:8786) or 'local' (default: dask_scheduler).")
@click.pass_context
def optimize(ctx: click.Context, json_path: str | None, trials: int | None, seed: int | None,
             workers: int | None, mode: str | None, insample_years: float,
             outofsample_years: float, scheduler: str | None) -> None:
    """Random search of a model's strategy parameters, with walk-forward validation.

    Writes <model>_optimize_trials.csv, <model>_walkforward.csv and
    <model>_optimize.png in the site folder and <model>_optimized_<date>.json
    next to the config.  `pytaaa optimize apply --json MODEL --row N` then
    writes trial N into the config (after a backup).
    """
    if ctx.invoked_subcommand is not None:
        return
    from pytaaa.cli._common import (
        exit_with_start,
        load_config_or_exit,
        scheduler_or_exit,
    )
    from pytaaa.models.optimize import DEFAULT_TRIALS
    from pytaaa.models.optimize_job import start_optimize

    if not json_path:
        click.echo("error: give --json MODEL_CONFIG", err=True)
        sys.exit(2)
    config = load_config_or_exit(json_path)
    v = config.valuation
    scheduler = scheduler_or_exit(scheduler or v.dask_scheduler)
    n = trials or DEFAULT_TRIALS
    res = start_optimize(config, sync=mode == "sync", trials=n,
                         seed=v.montecarlo_seed if seed is None else seed,
                         workers=workers or v.montecarlo_workers, scheduler=scheduler,
                         windows=(insample_years, outofsample_years))
    exit_with_start("Parameter search", res, json_path,
                    f"Write a trial into the config: pytaaa optimize apply --json {json_path} "
                    "--row N (N = the trial column of the CSV)")


@optimize.command("apply")
@click.option("--json", "json_path", required=True, type=click.Path(dir_okay=False),
              help="The model's PyTAAA JSON config file.")
@click.option("--row", type=click.IntRange(0), required=True,
              help="Trial number (the trial column of <model>_optimize_trials.csv).")
def apply(json_path: str, row: int) -> None:
    """Write trial ROW of the last search into the config (a backup is kept)."""
    from pytaaa.cli._common import load_config_or_exit
    from pytaaa.models.optimize_out import ApplyError, apply_row

    config = load_config_or_exit(json_path)
    try:
        updates, backup = apply_row(config, row)
    except ApplyError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"Backup: {backup}")
    click.echo(f"{json_path}: " + ", ".join(f"{k}={v}" for k, v in updates.items()))
