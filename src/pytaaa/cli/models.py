"""Click group ``pytaaa models``: several models and the model-switching account.

- ``pytaaa models recommend --json CFG [--date YYYY-MM-DD] [--as-json]``: the
  recommendation of a switching config for a date, with the ranking table and
  the recent switches.  Reads only.
- ``pytaaa models run --json CFG [--workers N] [--no-email]``: the daily run of
  every model that has a config (each in its own ``pytaaa run`` process, at most
  ``--workers`` at once, default the config's ``plot_generation_workers``; each
  model's charts and Monte Carlo follow its own settings), then the daily run of
  the switching account.  One line per model; a failing model is reported and
  left out, the others go on.

Exit status: 0 all done; 1 a model or an optional stage failed; 2 bad config,
date or no model series (one message, nothing written).  Other ``models``
subcommands (the searches) register themselves on :data:`models`.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import click

from pytaaa.cli._common import load_config_or_exit

__all__ = ["ModelRun", "models", "run_model_configs", "run_models_demo"]


@click.group()
def models() -> None:
    """Several models and the model-switching account (PyTAAA's "abacus")."""


def _settings_or_exit(json_path: str):  # noqa: ANN202 - (Config, SwitchingSettings)
    from pytaaa.models.settings import SwitchingConfigError, read_switching

    cfg = load_config_or_exit(json_path)
    try:
        return cfg, read_switching(cfg)
    except SwitchingConfigError as err:
        for line in str(err).splitlines():
            click.echo(f"error: {line}", err=True)
        sys.exit(2)


@models.command()
@click.option("--json", "json_path", required=True, type=click.Path(dir_okay=False),
              help="Switching config (a PyTAAA JSON config with a models section).")
@click.option("--date", "date_text", default=None, metavar="YYYY-MM-DD",
              help="Recommend with the data up to this date (default: all of it).")
@click.option("--as-json", is_flag=True, help="Print the recommendation as JSON.")
def recommend(json_path: str, date_text: str | None, as_json: bool) -> None:
    """The recommended model for the next decision day, with the ranking table."""
    import json

    from pytaaa.models.account import evaluate_switching
    from pytaaa.models.series import NoModelsError

    cfg, settings = _settings_or_exit(json_path)
    until = None
    if date_text is not None:
        try:
            until = dt.date.fromisoformat(date_text)
        except ValueError:
            click.echo(f"error: --date {date_text!r} is invalid: expected YYYY-MM-DD", err=True)
            sys.exit(2)
    try:
        outcome = evaluate_switching(cfg, settings, until=until, followed_picks=False)
    except NoModelsError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)
    except ValueError as err:
        click.echo(f"error: {cfg.path}: {err} (--date {date_text})", err=True)
        sys.exit(2)
    rec = outcome.recommendation
    if as_json:
        click.echo(json.dumps(outcome.summary(), indent=2))
        return
    click.echo(outcome.message())
    click.echo(f"Lookbacks {', '.join(map(str, rec.lookbacks))} days; score = mean of "
               "rank x weight (0 = best), ties to the alphabetically first name; "
               "(n) = rank of the metric")
    click.echo(rec.table())
    if rec.switches:
        click.echo("Recent switches (decided at the close of):")
        for s in rec.switches[-6:]:
            click.echo(f"  {s.date.isoformat()}  {s.from_model} -> {s.to_model}")
    for note in outcome.notes:
        click.echo(f"note: {note}")


@dataclass(frozen=True)
class ModelRun:
    """The outcome of one model's daily run: exit code, seconds, last message."""

    name: str
    config: Path | None
    exit_code: int | None
    seconds: float
    message: str

    def line(self) -> str:
        if self.config is None:
            return f"{self.name:<16} skipped   no config: its file is read as it is"
        state = {0: "ok", 1: "problems", None: "failed"}.get(self.exit_code, "failed")
        return (f"{self.name:<16} {state:<9} {self.seconds:6.1f} s  exit {self.exit_code}"
                + (f"  {self.message}" if self.message else ""))


def _last_line(text: str, prefix: str = "") -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    wanted = [ln for ln in lines if ln.startswith(prefix)] if prefix else []
    return (wanted or lines or [""])[-1][:200]


def _run_one(name: str, config: Path, extra: list[str]) -> ModelRun:
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "pytaaa", "run", "--json", str(config), *extra]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"}, check=False)
    except OSError as exc:
        return ModelRun(name, config, None, time.perf_counter() - t0, f"cannot start: {exc}")
    secs = time.perf_counter() - t0
    if proc.returncode == 0:
        msg = _last_line(proc.stdout, "Backtest")
    else:
        msg = _last_line(proc.stderr, "error:") or _last_line(proc.stdout, "problem:")
    return ModelRun(name, config, proc.returncode, secs, msg)


def run_model_configs(entries: list[tuple[str, Path | None]], workers: int,
                      extra: list[str] | None = None,
                      on_done=None) -> list[ModelRun]:  # noqa: ANN001 - callback
    """Run ``pytaaa run`` for every (name, config) at most ``workers`` at once.

    Entries without a config are reported as skipped.  ``on_done`` (if given)
    is called with each :class:`ModelRun` as it finishes.  Returns the runs in
    the order of ``entries``; never raises for a failing model.
    """
    runs: dict[str, ModelRun] = {}
    todo = [(n, c) for n, c in entries if c is not None]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(_run_one, n, c, list(extra or [])): n for n, c in todo}
        for fut in as_completed(futures):
            run = fut.result()
            runs[run.name] = run
            if on_done is not None:
                on_done(run)
    for n, c in entries:
        if c is None:
            runs[n] = ModelRun(n, None, None, 0.0, "")
    return [runs[n] for n, _c in entries]


@models.command("run")
@click.option("--json", "json_path", required=True, type=click.Path(dir_okay=False),
              help="Switching config (a PyTAAA JSON config with a models section).")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Models run at once (default: plot_generation_workers of the config).")
@click.option("--no-email", is_flag=True, help="No email from any of the runs.")
def run_models(json_path: str, workers: int | None, no_email: bool) -> None:
    """The daily run of every model, then of the switching account."""
    from pytaaa.pipeline import RunError, daily_run

    cfg, settings = _settings_or_exit(json_path)
    entries = [(m.name, m.config_path if m.config_path is not None
                and m.config_path.is_file() else None)
               for m in settings.models if m.kind != "cash"]
    n = workers or cfg.valuation.plot_generation_workers
    extra = ["--no-email"] if no_email else []
    t0 = time.perf_counter()
    runs = run_model_configs(entries, n, extra)
    for r in runs:
        click.echo(r.line())
    ran = [r for r in runs if r.config is not None]
    failed = [r for r in ran if r.exit_code not in (0, 1)]
    click.echo(f"{len(ran) - len(failed)} of {len(ran)} models with a config ran, "
               f"{len(failed)} failed, in {time.perf_counter() - t0:.1f} s ({n} at once)")
    try:
        result = daily_run(cfg, send_email=not no_email)
    except RunError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    click.echo(f"{'switching':<16} account  {cfg.path}")
    click.echo(result.summary())
    sys.exit(1 if failed or result.exit_code else 0)


def run_models_demo(folder: Path, *, n_symbols: int = 100, years: float = 30.0,
                    wait: bool = True) -> int:
    """``pytaaa demo --models``: build (or reuse) the multi-model workspace in
    ``folder``, run every model (2 at once), then the switching account; with
    ``wait`` watch the background jobs until they finish.  Prints one line per
    model and the account's summary; returns the exit status."""
    from pytaaa.config import load_config
    from pytaaa.models.demo import SWITCHING_CONFIG, write_models_workspace
    from pytaaa.models.settings import read_switching
    from pytaaa.pipeline import RunError, daily_run, wait_for_jobs

    path = folder / SWITCHING_CONFIG
    if not path.exists():
        click.echo(f"creating a multi-model workspace in {folder} "
                   f"({n_symbols} symbols x {years:.0f} years per model)")
        write_models_workspace(folder, n_symbols=n_symbols, years=years)
    cfg = load_config(path)
    settings = read_switching(cfg)
    entries = [(m.name, m.config_path) for m in settings.models if m.kind != "cash"]
    runs = run_model_configs(entries, 2, ["--no-email", "--async"])
    for r in runs:
        click.echo(r.line())
    try:
        result = daily_run(cfg, sync=False, send_email=False)
    except RunError as err:
        click.echo(f"error: {err}", err=True)
        return err.exit_code
    ok = True
    if wait:
        for _name, c in [*entries, ("switching", path)]:
            ok = wait_for_jobs(load_config(c).webpage) and ok
    click.echo(result.summary())
    click.echo(f"Open the switching account's page: {cfg.webpage / 'pyTAAAweb.html'}")
    bad = any(r.exit_code not in (0, 1) for r in runs)
    return 1 if bad or not ok or result.exit_code else 0
