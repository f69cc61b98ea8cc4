"""The switching account inside a daily run (``spec/models.md`` section 3).

:func:`evaluate_switching` (read only) reads the models' series, computes the
recommendation, reads the model the user follows (the last
``trading_model: <name>`` line of the account's ``PyTAAA_holdings.params``)
and, when that model has a config, its analysis, whose picks drive the
account's trade suggestions (cash: no picks, i.e. sell everything).
:meth:`SwitchingOutcome.write_files` then writes the account's abacus backtest
file and ``recommendation_plot.png``; a file that cannot be written or parsed
is a problem of the outcome, never an exception.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytaaa.config import Config, ConfigError, load_config
from pytaaa.model import Pick
from pytaaa.models.abacus import ABACUS_FILE, AccountFileError, update_abacus_file
from pytaaa.models.plot import PLOT_FILE, plot_recommendation
from pytaaa.models.recommend import Recommendation, recommend
from pytaaa.models.series import read_model_series
from pytaaa.models.settings import SwitchingSettings

__all__ = ["SwitchingOutcome", "evaluate_switching", "read_trading_model"]

log = logging.getLogger(__name__)

_TRADING_MODEL_RE = re.compile(r"^\s*trading_model\s*[:=]\s*(\S+)\s*$", re.IGNORECASE)


def read_trading_model(path: Path) -> str | None:
    """The model named by the last ``trading_model: <name>`` line of ``path``
    (None when the file or the line is missing)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = None
    for line in text.splitlines():
        m = _TRADING_MODEL_RE.match(line)
        if m:
            found = m.group(1)
    return found


@dataclass
class SwitchingOutcome:
    """What the switching stage of a daily run found and wrote.

    ``followed`` is the model the user follows (None when the holdings file
    names none); ``picks`` the followed model's picks (None when they are not
    known: no followed model, or no config for it) and ``prices`` its closes
    today; ``problems`` are reported in the run summary.
    """

    settings: SwitchingSettings
    recommendation: Recommendation
    followed: str | None = None
    picks: tuple[Pick, ...] | None = None
    prices: dict[str, float] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def mismatch(self) -> bool:
        """True when the user follows another model than the recommended one."""
        return self.followed is not None and (
            self.followed.lower() != self.recommendation.model.lower())

    def message(self) -> str:
        """One line: the recommendation and, if any, the mismatch."""
        rec = self.recommendation
        text = f"Model switching: {rec.model} recommended (data through {rec.date.isoformat()})"
        if self.followed is None:
            return text + "; no trading_model line in the holdings file"
        if self.mismatch:
            return (text + f"; you follow {self.followed}: switch to {rec.model} at the next "
                    "decision day")
        return text + f"; you follow {self.followed}"

    def describe(self) -> str:
        return self.message()

    def summary(self) -> dict[str, Any]:
        """The ``model_switching`` entry of ``run_summary.json``."""
        out = self.recommendation.to_dict()
        out.update({"followed": self.followed, "mismatch": self.mismatch,
                    "message": self.message(), "problems": list(self.problems)})
        return out

    def write_files(self, cfg: Config) -> list[Path]:
        """Write the abacus backtest file (performance store) and the chart (web
        folder); a failure is recorded in ``problems``.  Returns what was written."""
        written: list[Path] = []
        try:
            written.append(update_abacus_file(cfg.performance_store / ABACUS_FILE,
                                              self.recommendation.selection))
        except AccountFileError as exc:
            self.problems.append(str(exc))
            log.error("%s", exc)
        except OSError as exc:
            self.problems.append(f"cannot write {cfg.performance_store / ABACUS_FILE}: {exc}")
        try:
            written.append(plot_recommendation(self.recommendation, cfg.webpage / PLOT_FILE))
        except (OSError, ValueError) as exc:
            self.problems.append(f"recommendation chart not drawn: {exc}")
            log.error("recommendation chart not drawn: %s", exc)
        self.files += written
        return written


def _followed_picks(outcome: SwitchingOutcome, holdings_path: Path) -> None:
    """Fill ``picks``/``prices`` from the followed model's own analysis."""
    from pytaaa.engine.analysis import analyze

    name = outcome.followed
    if name is None:
        outcome.notes.append(f"{holdings_path.name} has no 'trading_model: <name>' line: "
                             "trades follow the account's own picks")
        return
    entry = outcome.settings.entry(name)
    if entry is None:
        outcome.problems.append(
            f"{holdings_path}: trading_model {name!r} is not one of the models "
            f"({', '.join(outcome.settings.names)})")
        return
    if entry.kind == "cash":
        outcome.picks = ()
        outcome.notes.append("Trade suggestions follow cash: sell everything.")
        return
    if entry.config_path is None or not entry.config_path.is_file():
        outcome.problems.append(
            f"model {entry.name}: no config to compute its picks (give the path of its JSON "
            "config in models.model_choices); trades follow the account's own picks")
        return
    try:
        model_cfg = load_config(entry.config_path)
        analysis = analyze(model_cfg)
    except ConfigError as exc:
        outcome.problems.append(f"model {entry.name}: its config is invalid: {exc}")
        return
    except Exception as exc:  # noqa: BLE001 - a store or data problem of another model
        outcome.problems.append(f"model {entry.name}: picks not computed: {exc}")
        return
    from pytaaa.account.trades import prices_today

    outcome.picks = tuple(analysis.picks)
    outcome.prices = prices_today(analysis)
    outcome.notes.append(f"Trade suggestions follow the picks of {entry.name} "
                         f"({', '.join(p.symbol for p in outcome.picks) or 'cash'}).")


def evaluate_switching(cfg: Config, settings: SwitchingSettings, *,
                       until: dt.date | None = None,
                       followed_picks: bool = True) -> SwitchingOutcome:
    """The switching account of ``cfg`` on the last day of the models (or ``until``).

    Reads the models' files, the account's holdings file (``trading_model:``)
    and, with ``followed_picks``, the followed model's config and store.
    Raises :class:`~pytaaa.models.series.NoModelsError` when no model has a
    series; every other problem is recorded in the outcome.
    """
    series, warnings = read_model_series(settings, until=until)
    rec = recommend(settings, series, warnings)
    holdings_path = cfg.performance_store / "PyTAAA_holdings.params"
    outcome = SwitchingOutcome(settings, rec, followed=read_trading_model(holdings_path))
    outcome.notes += list(warnings)
    if followed_picks:
        _followed_picks(outcome, holdings_path)
    log.info("%s", outcome.message())
    return outcome
