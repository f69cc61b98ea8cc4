"""Click command ``pytaaa montecarlo``: the Monte Carlo backtest on demand.

Registered in :mod:`pytaaa.cli.app`.  Exit status: in sync mode the job's code
(0 all trials done, 1 a trial failed, 2 bad store or config); 0 once an async
job started or when the results are fresh; 1 when the job could not start;
2 for a bad config or argument (one message, nothing written).
"""

from __future__ import annotations

import sys

import click

__all__ = ["montecarlo"]


@click.command()
@click.option("--json", "json_path", required=True, type=click.Path(dir_okay=False),
              help="PyTAAA JSON config file.")
@click.option("--sync", "mode", flag_value="sync", default=None,
              help="Run in this process (default: the config's async_montecarlo_backtest).")
@click.option("--async", "mode", flag_value="async", help="Start a detached job and return.")
@click.option("--trials", type=click.IntRange(1, 1000), default=None,
              help="Number of trials (default: montecarlo_trials, else by platform).")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Trial worker processes (default: montecarlo_workers).")
@click.option("--force", is_flag=True,
              help="Run even when PyTAAA_monteCarloBacktest.png is still fresh.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Dask scheduler (tcp://HOST:8786) or 'local' (default: dask_scheduler).")
def montecarlo(json_path: str, mode: str | None, trials: int | None, workers: int | None,
               force: bool, scheduler: str | None) -> None:
    """Monte Carlo backtest: PyTAAA_monteCarloBacktest*.png and its data files."""
    from pytaaa.cli._common import load_config_or_exit, scheduler_or_exit
    from pytaaa.montecarlo.start import start_montecarlo

    config = load_config_or_exit(json_path)
    scheduler = scheduler_or_exit(scheduler or config.valuation.dask_scheduler)
    sync = None if mode is None else mode == "sync"
    res = start_montecarlo(config, sync=sync, trials=trials, workers=workers, force=force,
                           scheduler=scheduler)
    click.echo(f"Monte Carlo: {res.describe()}")
    if res.mode == "sync":
        sys.exit(res.exit_code or 0)
    sys.exit(1 if res.mode == "failed" else 0)
