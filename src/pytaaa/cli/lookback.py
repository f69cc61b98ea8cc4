"""``pytaaa models search`` and ``pytaaa models apply``: the lookback search of a
switching config (registered on the :data:`pytaaa.cli.models.models` group).

``search`` starts the search as a background job (``--sync``: in this process,
exit 0 done, 1 a runtime error, 2 bad config or no model series); ``apply``
writes a row of ``abacus_best_performers.csv`` into the config after a backup
(exit 2 for a missing CSV or row).  A bad config or argument exits 2.
"""

from __future__ import annotations

import sys

import click

from pytaaa.cli._common import exit_with_start, load_config_or_exit
from pytaaa.cli.models import models

__all__ = ["search", "apply"]


@models.command("search")
@click.option("--json", "json_path", required=True, type=click.Path(dir_okay=False),
              help="Switching config (a PyTAAA JSON config with a models section).")
@click.option("--iterations", type=click.IntRange(1, 10_000_000), default=None,
              help="Iterations (default: monte_carlo.max_iterations, else 50,000).")
@click.option("--seed", type=click.IntRange(0), default=None,
              help="Random seed (default: montecarlo_seed).")
@click.option("--sync", "mode", flag_value="sync", default=None, help="Run here and wait.")
@click.option("--async", "mode", flag_value="async", help="Start a detached job (default).")
def search(json_path: str, iterations: int | None, seed: int | None, mode: str | None) -> None:
    """Search the switching lookbacks (abacus_best_performers.csv and a PNG)."""
    from pytaaa.models.lookback_job import start_lookback_search

    cfg = load_config_or_exit(json_path)
    res = start_lookback_search(cfg, sync=mode == "sync", iterations=iterations,
                                seed=cfg.valuation.montecarlo_seed if seed is None else seed)
    exit_with_start("Lookback search", res, json_path,
                    f"Write a row into the config: pytaaa models apply --json {json_path} --row N")


@models.command("apply")
@click.option("--json", "json_path", required=True, type=click.Path(dir_okay=False),
              help="Switching config.")
@click.option("--row", type=click.IntRange(0), required=True,
              help="Row of abacus_best_performers.csv (the row column).")
def apply(json_path: str, row: int) -> None:
    """Write the lookbacks of ROW into recommendation_mode.default_lookbacks (after a backup)."""
    from pytaaa.models.lookback_out import LookbackApplyError, apply_row

    cfg = load_config_or_exit(json_path)
    try:
        lookbacks, backup = apply_row(cfg, row)
    except LookbackApplyError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"Backup: {backup}")
    click.echo(f"{json_path}: recommendation_mode.default_lookbacks = {lookbacks}")
