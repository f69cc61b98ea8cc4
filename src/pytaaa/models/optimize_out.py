"""Outputs of a strategy parameter search, and writing a chosen trial into a config.

For a model whose config is ``<model>.json``:

- ``<webpage>/<model>_optimize_trials.csv``: one row per finished trial (row
  number = trial number; trial 0 = the config): every drawn parameter, the
  trial's per-horizon statistics over the whole history (``insample_*``: the
  parameters were chosen knowing this history), then the walk-forward columns
  (``wf_insample_sharpe`` / ``wf_outofsample_sharpe``: the trial's mean Sharpe
  over the in-sample and out-of-sample windows, ``wf_times_chosen``);
- ``<webpage>/<model>_walkforward.csv``: one row per fold;
- ``<webpage>/<model>_optimize.png``: every trial's value curve, the best and
  the config highlighted, and the stitched out-of-sample curve next to the
  in-sample best;
- ``<config folder>/<model>_optimized_<date>.json``: the config with the best
  trial's parameters.

:func:`apply_row` writes a trial's parameters into the config after a backup.
Every file is written atomically (:mod:`pytaaa._io`).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from pytaaa._io import atomic_write_bytes, atomic_write_text
from pytaaa.config import ConfigError, load_config
from pytaaa.models.optimize import SearchResult
from pytaaa.montecarlo.stats import MC_HORIZONS
from pytaaa.montecarlo.trials import method_param_names

__all__ = [
    "model_name",
    "output_paths",
    "trials_csv_text",
    "folds_csv_text",
    "optimized_config",
    "write_outputs",
    "plot_search",
    "apply_row",
    "find_csv_row",
    "ApplyError",
]

_STATS = (("cagr", "cagr"), ("sharpe", "sharpe"), ("max_drawdown", "max_dd"),
          ("mean_drawdown", "mean_dd"))


class ApplyError(ValueError):
    """A row that cannot be applied (missing CSV, unknown row, bad value)."""


def model_name(config: Any) -> str:
    """The model's name: its config file name without ``.json``."""
    return Path(config.path).stem


def output_paths(config: Any, day: dt.date) -> dict[str, Path]:
    """Where a search of ``config`` writes: keys ``trials``, ``folds``, ``png``, ``json``."""
    name, web = model_name(config), Path(config.webpage)
    return {
        "trials": web / f"{name}_optimize_trials.csv",
        "folds": web / f"{name}_walkforward.csv",
        "png": web / f"{name}_optimize.png",
        "json": Path(config.path).parent / f"{name}_optimized_{day.isoformat()}.json",
    }


def _num(x: float, digits: int = 6) -> str:
    return f"{float(x):.{digits}f}" if x is not None and math.isfinite(float(x)) else ""


def _param(value: int | float) -> str:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    return f"{float(value):.6f}"


def trials_csv_text(method: str, res: SearchResult) -> str:
    """The per-trial CSV (see the module docstring); rows in trial order."""
    names = list(method_param_names(method))
    header = ["trial", *names, "final_value", "n_trades"]
    header += [f"insample_{label}_{col}" for label in MC_HORIZONS for _, col in _STATS]
    header += ["wf_insample_sharpe", "wf_outofsample_sharpe", "wf_times_chosen", "best"]
    by_index = {p.index: p for p in res.params}
    wf = res.walk
    rows = [",".join(header)]
    for r in res.results:
        upd = by_index[r.index].updates
        row = [str(r.index)] + [_param(upd[n]) for n in names]
        row += [_num(r.values[-1], 2), str(r.n_trades)]
        for label in MC_HORIZONS:
            h = r.stats.get(label)
            row += [_num(h[key]) if h else "" for key, _ in _STATS]
        if wf is not None and wf.folds:
            row += [_num(wf.trial_is_sharpe[r.index]), _num(wf.trial_oos_sharpe[r.index]),
                    str(int(wf.chosen_count[r.index]))]
        else:
            row += ["", "", ""]
        row.append("1" if r.index == res.best else "0")
        rows.append(",".join(row))
    return "\n".join(rows) + "\n"


def folds_csv_text(res: SearchResult, dates: np.ndarray) -> str:
    """One row per walk-forward fold: windows, the trial chosen in-sample, its
    in-sample and out-of-sample figures, and the out-of-sample CAGR of the
    config (trial 0) and of the whole-history best trial (hindsight)."""
    header = ("fold,insample_start,insample_end,outofsample_start,outofsample_end,chosen_trial,"
              "insample_sharpe,outofsample_sharpe,outofsample_cagr,config_outofsample_cagr,"
              "best_trial_outofsample_cagr")
    rows = [header]
    for f in (res.walk.folds if res.walk else []):
        rows.append(",".join([
            str(f.number), str(dates[f.is_start]), str(dates[f.oos_start - 1]),
            str(dates[f.oos_start]), str(dates[f.oos_end - 1]), str(f.chosen),
            _num(f.is_sharpe), _num(f.oos_sharpe), _num(f.oos_cagr), _num(f.config_oos_cagr),
            _num(f.best_oos_cagr),
        ]))
    return "\n".join(rows) + "\n"


def _read_raw(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ApplyError(f"{path}: cannot read the config: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("Valuation"), dict):
        raise ApplyError(f"{path}: no Valuation section")
    return doc


def optimized_config(config_path: Path, updates: dict[str, int | float]) -> str:
    """The text of ``config_path`` with ``Valuation`` keys set from ``updates``."""
    doc = _read_raw(config_path)
    doc["Valuation"].update(updates)
    return json.dumps(doc, indent=2) + "\n"


def write_outputs(config: Any, res: SearchResult, dates: np.ndarray, day: dt.date,
                  title: str) -> list[Path]:
    """Write both CSVs, the optimized JSON, then the PNG; return the paths written.
    Raises ``OSError`` when a file cannot be written (none is left half-written)."""
    paths = output_paths(config, day)
    method = config.valuation.uptrendSignalMethod
    Path(config.webpage).mkdir(parents=True, exist_ok=True)
    atomic_write_text(paths["trials"], trials_csv_text(method, res))
    atomic_write_text(paths["folds"], folds_csv_text(res, dates))
    best = next(p for p in res.params if p.index == res.best)
    atomic_write_text(paths["json"], optimized_config(Path(config.path), dict(best.updates)))
    plot_search(res, dates, paths["png"], title)
    return [paths["trials"], paths["folds"], paths["json"], paths["png"]]


def plot_search(res: SearchResult, dates: np.ndarray, path: Path, title: str) -> Path:
    """The search's PNG: top, every trial's value (grey, log scale) with the best
    (red) and the config (black); bottom, from the first out-of-sample day, the
    stitched walk-forward curve (blue) next to the in-sample best and the config."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    from pytaaa.charts.drawing import save_figure_png

    x = np.asarray(dates).astype("datetime64[D]").astype(np.float64)  # days since 1970
    step = max(1, len(x) // 1500)
    fig = Figure(figsize=(12, 8), dpi=100)
    canvas = FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, height_ratios=(3, 2))
    xs = x[::step]
    segs = [np.column_stack([xs, np.maximum(r.values[::step], 1.0)]) for r in res.results]
    top.add_collection(LineCollection(segs, colors="0.6", linewidths=0.4, alpha=0.5))
    best, cfg = res.trial(res.best), res.trial(0)
    for r, color, label in ((cfg, "black", "config (trial 0)"),
                            (best, "red", f"best in-sample (trial {res.best})")):
        if r is not None:
            top.plot(xs, np.maximum(r.values[::step], 1.0), color=color, lw=1.6, label=label)
    top.set_yscale("log")
    top.autoscale_view()
    top.set_title(f"{title}: {len(res.results)} trials (whole history, in-sample)")
    top.legend(loc="upper left", fontsize=8)
    wf = res.walk
    if wf is not None and wf.folds:
        s = wf.folds[0].oos_start - 1
        for curve, color, label in (
            (wf.curve, "tab:blue", "walk-forward (chosen in-sample, out-of-sample)"),
            (wf.best_curve, "red", f"best in-sample (trial {res.best}, hindsight)"),
            (wf.config_curve, "black", "config (trial 0)"),
        ):
            bottom.plot(x[s:], curve[s:], color=color, lw=1.4, label=label)
        bottom.set_yscale("log")
        bottom.legend(loc="upper left", fontsize=8)
        bottom.set_title(f"Walk-forward validation: {len(wf.folds)} folds from {dates[s]}")
    else:
        bottom.text(0.5, 0.5, "history too short for walk-forward validation",
                    ha="center", va="center", transform=bottom.transAxes)
    for ax in (top, bottom):
        ax.xaxis_date()
        ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    save_figure_png(canvas, path)
    return path


def find_csv_row(csv_path: Path, column: str, value: int) -> dict[str, str] | None:
    """The first record of ``csv_path`` whose ``column`` is ``value``, or None.
    Raises ``OSError`` when the file cannot be read."""
    with open(csv_path, newline="", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            if rec.get(column) == str(value):
                return rec
    return None


def _row(csv_path: Path, row: int) -> dict[str, str]:
    try:
        rec = find_csv_row(csv_path, "trial", row)
    except OSError as exc:
        raise ApplyError(f"{csv_path}: cannot read the trials: {exc.strerror or exc}") from None
    if rec is None:
        raise ApplyError(f"{csv_path}: no row for trial {row}")
    return rec


def apply_row(config: Any, row: int, now: dt.datetime | None = None) -> tuple[dict[str, Any], Path]:
    """Write trial ``row`` of the model's trials CSV into its config file.

    The config is first copied to ``<config>.<YYYYmmdd-HHMMSS>.bak`` next to it.
    Values keep the config's types (integers stay integers).  Returns the
    updates and the backup path; raises :class:`ApplyError` for a missing CSV
    or row or a value that is not a number.
    """
    paths = output_paths(config, dt.date.today())
    rec = _row(paths["trials"], row)
    names = method_param_names(config.valuation.uptrendSignalMethod)
    updates: dict[str, Any] = {}
    for name in names:
        text = (rec.get(name) or "").strip()
        try:
            num = float(text)
        except ValueError:
            raise ApplyError(f"{paths['trials']}: trial {row}: {name}={text!r} is not a number") \
                from None
        current = getattr(config.valuation, name)
        updates[name] = int(round(num)) if isinstance(current, int) else num
    cfg_path = Path(config.path)
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    backup = cfg_path.with_name(f"{cfg_path.name}.{stamp}.bak")
    text = optimized_config(cfg_path, updates)
    original = cfg_path.read_bytes()
    atomic_write_bytes(backup, original, mode=0o600)
    atomic_write_text(cfg_path, text, mode=cfg_path.stat().st_mode & 0o777)
    try:
        load_config(cfg_path)
    except ConfigError as exc:
        atomic_write_bytes(cfg_path, original, mode=cfg_path.stat().st_mode & 0o777)
        raise ApplyError(f"trial {row} makes the config invalid (left unchanged): {exc}") from None
    return updates, backup
