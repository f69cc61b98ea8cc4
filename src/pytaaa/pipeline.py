"""The daily run (``pipeline.md`` section 1), stage by stage.

``daily_run(config)`` reads the quote store, computes the analysis (signals,
ranking, backtest), draws or spawns the per-symbol charts, values the user's
holdings and suggests trades, writes the data files and the web site, spawns
the Monte Carlo job when its results are stale, emails when something changed
and appends the status history.  Each stage logs one line with its time; in
async mode the run never waits for a background job.

A failing optional stage (charts, email, Monte Carlo spawn) is logged and
reported in the summary; it never stops the others or the status update.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .analysis import analyze
from .config import Config
from .model import Analysis, Quotes
from .outputs import write_outputs

__all__ = ["RunError", "RunResult", "daily_run", "run_demo"]

log = logging.getLogger(__name__)

HOLDINGS_FILE = "PyTAAA_holdings.params"
STATUS_FILE = "PyTAAA_status.params"


class RunError(Exception):
    """The run cannot go on (bad store, unwritable output folder); ``exit_code`` for the CLI."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class RunResult:
    """What a daily run did: files written, the jobs' outcomes, problems, stage times."""

    config: Config
    analysis: Analysis | None = None
    files: list[Path] = field(default_factory=list)
    charts: Any = None
    montecarlo: Any = None
    email: Any = None
    problems: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    page: Path | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.problems else 0

    def summary(self) -> str:
        """A few lines for the terminal: the page, picks, jobs and problems."""
        lines = []
        if self.analysis is not None:
            a = self.analysis
            picks = ", ".join(f"{p.symbol} {p.weight:.0%}" for p in a.picks)
            lines.append(f"Data through {a.last_date}: {len(a.symbols) - 1} symbols; picks: {picks}")
            bt = a.backtest.stats.get("strategy", {}).get("whole")
            bh = a.backtest.stats.get("buy_hold", {}).get("whole")
            if bt and bh:
                lines.append(f"Backtest CAGR {bt['cagr']:.1%} (buy-and-hold {bh['cagr']:.1%})")
        for name, outcome in (("Charts", self.charts), ("Monte Carlo", self.montecarlo),
                              ("Email", self.email)):
            if outcome is not None:
                lines.append(f"{name}: {_describe(outcome)}")
        if self.page is not None:
            lines.append(f"Web page: {self.page}")
        total = sum(self.timings.values())
        lines.append(f"Run time {total:.2f} s")
        lines += [f"problem: {p}" for p in self.problems]
        return "\n".join(lines)


def _describe(outcome: Any) -> str:
    text = getattr(outcome, "describe", None)
    if callable(text):
        return str(text())
    return str(outcome)


@contextmanager
def _stage(result: RunResult, name: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - t0
        result.timings[name] = result.timings.get(name, 0.0) + elapsed
        log.info("%-12s %7.3f s", name, elapsed)


def _optional(result: RunResult, name: str, fn: Callable[[], Any]) -> Any:
    """Run an optional stage; a failure is logged and recorded, never raised."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - an optional stage must not stop the run
        log.error("%s failed: %s", name, exc)
        result.problems.append(f"{name}: {exc}")
        return None
