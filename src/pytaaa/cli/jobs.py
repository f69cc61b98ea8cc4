"""Click commands: ``pytaaa charts`` and ``pytaaa jobs [--format json] [--watch] [cancel KIND]``.

Registered in :mod:`pytaaa.cli.app`.  Exit status: ``charts`` returns the job's
code in sync mode (0 ok, 1 a chart failed) and 0 once an async job started
(1 when it could not start); ``jobs`` returns 1 when a job failed or died;
a bad config or argument exits 2 with one message.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from pytaaa.jobs.paths import JobPaths, validate_kind
from pytaaa.jobs.status import JobStatus, list_statuses

__all__ = ["charts", "jobs", "jobs_table", "job_row", "job_record"]

#: The ``KIND`` of every job module (tests/cli/test_jobs.py keeps the list complete).
JOB_KINDS = ("charts", "montecarlo", "optimize", "lookback_search")
_BAD_STATES = {JobStatus.FAILED.value, JobStatus.DIED.value}
_ACTIVE_STATES = {JobStatus.QUEUED.value, JobStatus.RUNNING.value}


def _load_config(json_path: str) -> Any:
    """Load a config; a bad one prints its problems and exits with status 2."""
    from pytaaa.cli._common import load_config_or_exit

    return load_config_or_exit(json_path)


@click.command()
@click.option("--json", "json_path", required=True, type=click.Path(dir_okay=False),
              help="PyTAAA JSON config file.")
@click.option("--sync", "mode", flag_value="sync", default=None,
              help="Draw in this process (default: the config's async_plot_generation).")
@click.option("--async", "mode", flag_value="async", help="Start a detached job and return.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Worker processes (default: plot_generation_workers).")
@click.option("--force", is_flag=True,
              help="Redraw charts that are still fresh, even outside plot_generation_hours.")
def charts(json_path: str, mode: str | None, workers: int | None, force: bool) -> None:
    """Draw the two charts of every symbol (0_<SYM>.png, 0_recent_<SYM>.png)."""
    from pytaaa.charts.inputs import build_chart_inputs
    from pytaaa.charts.start import start_charts
    from pytaaa.data.store import StoreError, read_company_names
    from pytaaa.engine.analysis import analyze

    config = _load_config(json_path)
    try:
        analysis = analyze(config)
        companies = read_company_names(config.symbols_file)
    except StoreError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    inputs = build_chart_inputs(config, analysis, companies)
    sync = None if mode is None else mode == "sync"
    res = start_charts(config, inputs, sync=sync, workers=workers, force=force,
                       ignore_window=force)
    click.echo(f"Charts: {res.describe()}")
    if res.mode == "sync":
        sys.exit(res.exit_code or 0)
    sys.exit(1 if res.mode == "failed" else 0)


def _parse_time(text: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(text))
    except (TypeError, ValueError):
        return None


def _fmt_seconds(s: float | None) -> str:
    if s is None or s != s or s < 0:
        return "–"
    s = int(round(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _bar(done: int, total: int, width: int = 12) -> str:
    frac = min(1.0, done / total) if total else 0.0
    full = int(round(frac * width))
    return "\u2588" * full + "\u2591" * (width - full) + f" {done}/{total}"


def job_row(status: dict[str, Any], now: dt.datetime | None = None) -> dict[str, str]:
    """The columns of one job in ``pytaaa jobs``: state, progress, rate, elapsed, left, errors."""
    now = now or dt.datetime.now().astimezone()
    start = _parse_time(status.get("started_at"))
    end = _parse_time(status.get("finished_at")) or now
    elapsed = (end - start).total_seconds() if start else None
    done, total = int(status.get("done") or 0), int(status.get("total") or 0)
    rate = done / elapsed if elapsed and elapsed > 0 and done else None
    active = status.get("state") in _ACTIVE_STATES
    left = (total - done) / rate if rate and active else (0.0 if not active else None)
    errors = status.get("errors") or []
    err = f"{status.get('failed', 0)}"
    if errors:
        first = errors[0]
        err += f" ({first.get('item')}: {first.get('message')})"
    elif status.get("message") and status.get("state") in _BAD_STATES | {"cancelled"}:
        err += f" ({status['message']})"
    return {
        "job": str(status.get("kind")),
        "state": str(status.get("state")),
        "progress": _bar(done, total),
        "rate": f"{rate:.1f}/s" if rate else "–",
        "elapsed": _fmt_seconds(elapsed),
        "left": _fmt_seconds(left),
        "errors": err,
    }


def jobs_table(statuses: list[dict[str, Any]]) -> Any:
    """A rich Table of ``statuses`` (one row per job kind)."""
    from rich.table import Table

    table = Table(title="pytaaa background jobs")
    for col in ("job", "state", "progress", "rate", "elapsed", "left", "errors"):
        table.add_column(col, overflow="fold")
    styles = {"succeeded": "green", "failed": "red", "died": "red", "cancelled": "yellow",
              "running": "cyan", "queued": "cyan"}
    for st in statuses:
        row = job_row(st)
        table.add_row(*[
            f"[{styles.get(v, 'white')}]{v}[/]" if k == "state" else v for k, v in row.items()
        ])
    return table


def _webpage(json_path: str | None, webpage: str | None) -> Path:
    """The site folder of ``--webpage`` or of the config of ``--json``; exits 2 when
    neither is given or the folder does not exist."""
    if webpage:
        site, origin = Path(webpage), "--webpage"
    elif json_path:
        site, origin = Path(_load_config(json_path).webpage), f"webpage of {json_path}"
    else:
        click.echo("error: give --json CONFIG or --webpage FOLDER", err=True)
        sys.exit(2)
    if not site.is_dir():
        click.echo(f"error: web folder {site} ({origin}) does not exist", err=True)
        sys.exit(2)
    return site


def job_record(status: dict[str, Any], now: dt.datetime | None = None) -> dict[str, Any]:
    """One job for ``pytaaa jobs --format json``: the status fields (see
    ``docs/background-jobs.md``) plus ``elapsed_seconds`` and ``seconds_left``
    (null when unknown)."""
    now = now or dt.datetime.now().astimezone()
    start = _parse_time(status.get("started_at"))
    end = _parse_time(status.get("finished_at")) or now
    elapsed = (end - start).total_seconds() if start else None
    done, total = int(status.get("done") or 0), int(status.get("total") or 0)
    left = None
    if status.get("state") not in _ACTIVE_STATES:
        left = 0.0
    elif elapsed and done:
        left = (total - done) * elapsed / done
    out = {k: v for k, v in status.items() if k != "died"}
    out["elapsed_seconds"] = None if elapsed is None else round(elapsed, 1)
    out["seconds_left"] = None if left is None else round(left, 1)
    return out


def _json_doc(site: Path, statuses: list[dict[str, Any]]) -> str:
    doc = {"webpage": str(site.resolve()), "jobs": [job_record(s) for s in statuses]}
    return json.dumps(doc, sort_keys=True)


def _change_line(status: dict[str, Any]) -> str:
    row = job_row(status)
    stamp = dt.datetime.now().strftime("%H:%M:%S")
    done, total = int(status.get("done") or 0), int(status.get("total") or 0)
    return (f"[{stamp}] {row['job']}: {row['state']} {done}/{total}, rate {row['rate']}, "
            f"elapsed {row['elapsed']}, left {row['left']}, failed {row['errors']}")


def _watch_lines(site: Path, statuses: list[dict[str, Any]], fmt: str) -> list[dict[str, Any]]:
    """``--watch`` off a terminal: a line (or a JSON document) per change until no job is
    active; returns the last statuses."""
    seen: dict[str, tuple[Any, ...]] = {}
    while True:
        changed = False
        for st in statuses:
            key = (st.get("job_id"), st.get("state"), st.get("done"), st.get("failed"))
            if seen.get(str(st.get("kind"))) != key:
                seen[str(st.get("kind"))] = key
                changed = True
                if fmt == "table":
                    click.echo(_change_line(st))
        if changed and fmt == "json":
            click.echo(_json_doc(site, statuses))
        if not any(s.get("state") in _ACTIVE_STATES for s in statuses):
            return statuses
        time.sleep(1.0)
        statuses = list_statuses(site)


@click.group(invoke_without_command=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="PyTAAA JSON config file.")
@click.option("--webpage", type=click.Path(file_okay=False), help="Site folder (instead of --json).")
@click.option("--watch", is_flag=True,
              help="Refresh until every job has finished (off a terminal: a line per change).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True,
              help="json: one JSON document {webpage, jobs: [...]} (with --watch: one per change).")
@click.pass_context
def jobs(ctx: click.Context, json_path: str | None, webpage: str | None, watch: bool,
         fmt: str) -> None:
    """Show the background jobs of a site: state, progress, rate, time left, errors.

    Give the site by --json CONFIG or --webpage FOLDER.  Exit status 1 when a
    job failed or died, 2 when the folder or config is missing or bad.
    """
    ctx.ensure_object(dict)
    ctx.obj.update(json_path=json_path, webpage=webpage)
    if ctx.invoked_subcommand is not None:
        return
    from rich.console import Console
    from rich.live import Live

    site = _webpage(json_path, webpage)
    console = Console()
    statuses = list_statuses(site)
    if fmt == "json" and not watch:
        click.echo(_json_doc(site, statuses))
    elif not statuses:
        if fmt == "json":
            click.echo(_json_doc(site, statuses))
        else:
            click.echo(f"No background job has run for {site}.")
        sys.exit(0)
    elif watch and (fmt == "json" or not console.is_terminal):
        statuses = _watch_lines(site, statuses, fmt)
    elif watch:
        try:
            with Live(jobs_table(statuses), console=console, refresh_per_second=4) as live:
                while any(s.get("state") in _ACTIVE_STATES for s in statuses):
                    time.sleep(1.0)
                    statuses = list_statuses(site)
                    live.update(jobs_table(statuses))
        except KeyboardInterrupt:
            sys.exit(130)
    else:
        console.print(jobs_table(statuses))
    if fmt == "table":
        for st in statuses:
            if st.get("log") and st.get("state") in _BAD_STATES:
                click.echo(f"{st['kind']}: see {st['log']}")
    sys.exit(1 if any(s.get("state") in _BAD_STATES for s in statuses) else 0)


def _check_known_kind(site: Path, kind: str) -> None:
    """Exit 2 unless ``kind`` is a job kind of pytaaa or has run for ``site``."""
    if kind in JOB_KINDS or any(s.get("kind") == kind for s in list_statuses(site)):
        return
    click.echo(f"error: unknown job kind {kind!r}: expected one of {', '.join(JOB_KINDS)}",
               err=True)
    sys.exit(2)


@jobs.command("cancel")
@click.argument("kind")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="PyTAAA JSON config file.")
@click.option("--webpage", type=click.Path(file_okay=False), help="Site folder (instead of --json).")
@click.option("--grace", type=click.FloatRange(0), default=None,
              help="Seconds before SIGKILL (default: job_cancel_grace_seconds, else 5).")
@click.pass_context
def cancel(ctx: click.Context, kind: str, json_path: str | None, webpage: str | None,
           grace: float | None) -> None:
    """Stop the running job KIND (charts, montecarlo) of a site.

    Exit status 0 (stopped, or none was running), 1 when the job did not stop,
    2 for an unknown kind or a missing folder.
    """
    from pytaaa.jobs.runtime import cancel_job

    try:
        validate_kind(kind)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    json_path = json_path or ctx.obj.get("json_path")
    webpage = webpage or ctx.obj.get("webpage")
    if grace is None:
        grace = float(_load_config(json_path).valuation.job_cancel_grace_seconds) if json_path else 5.0
    site = _webpage(json_path, webpage)
    _check_known_kind(site, kind)
    try:
        stopped = cancel_job(JobPaths(site, kind), grace, note=click.echo)
    except TimeoutError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{kind} job cancelled." if stopped else f"No {kind} job is running for {site}.")
