"""The ``models`` part of a switching config (``spec/models.md`` section 1).

A switching config is a normal PyTAAA config whose JSON also has a ``models``
section (and optionally ``monte_carlo``, ``recommendation_mode`` and
``model_selection``), read in PyTAAA's layout unchanged::

    "models": {"base_folder": "/home/me/pyTAAA_data",
               "model_choices": {"cash": "",
                                 "naz100_hma": "{base_folder}/naz100_hma/data_store/{data_file}"}},
    "monte_carlo": {"data_format": "backtested", "trading_frequency": "monthly"},
    "recommendation_mode": {"default_lookbacks": [50, 150, 250]},
    "model_selection": {"performance_metrics": {"sharpe_ratio_weight": 1.0, ...},
                        "normalization": {"central_values": {...}, "std_values": {...}}}

A model entry is ``""`` (cash), a template of the model's data file
(``{base_folder}`` and ``{data_file}`` are filled in) or the path of the
model's own JSON config (ending in ``.json``).  Relative paths are resolved
against the folder of the switching config.  :func:`read_switching` validates
all of it with pydantic and raises :class:`SwitchingConfigError` with one line
per problem (the CLI and the daily run turn it into exit status 2).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from pytaaa.config import Config, ConfigError, _problems

__all__ = [
    "DATA_FILES",
    "METRICS",
    "ModelEntry",
    "SwitchingConfigError",
    "SwitchingSettings",
    "is_switching_config",
    "read_switching",
]

#: The five selection metrics, in table order (higher is better for each).
METRICS = ("annualized_return", "sharpe_ratio", "sortino_ratio", "max_drawdown", "avg_drawdown")
#: ``monte_carlo.data_format`` -> the model file read (``{data_file}``).
DATA_FILES = {"backtested": "pyTAAAweb_backtestPortfolioValue.params",
              "actual": "PyTAAA_status.params"}

Number = StrictFloat | StrictInt


class SwitchingConfigError(ConfigError):
    """The ``models`` part of a switching config cannot be used (one line per problem)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, frozen=True)


class _Models(_Section):
    base_folder: StrictStr = ""
    model_choices: dict[StrictStr, StrictStr] = Field(min_length=1)

    @field_validator("model_choices")
    @classmethod
    def _names(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k in v if not k.strip() or any(c.isspace() for c in k)]
        if bad:
            raise ValueError(f"model names must be non-empty words without spaces, got {bad!r}")
        if sum(1 for p in v.values() if not p.strip()) > 1:
            raise ValueError("at most one model may be cash (\"\")")
        return v


class _MonteCarlo(_Section):
    data_format: Literal["backtested", "actual"] = "backtested"
    trading_frequency: Literal["monthly", "daily"] = "monthly"


class _Recommendation(_Section):
    default_lookbacks: list[StrictInt] = Field(default_factory=lambda: [50, 150, 250],
                                               min_length=1, max_length=12)

    @field_validator("default_lookbacks")
    @classmethod
    def _lookbacks(cls, v: list[int]) -> list[int]:
        if any(x < 3 for x in v):
            raise ValueError("expected lookbacks of at least 3 days")
        return v


class _Weights(_Section):
    annualized_return_weight: Number = Field(default=1.0, ge=0)
    sharpe_ratio_weight: Number = Field(default=1.0, ge=0)
    sortino_ratio_weight: Number = Field(default=1.0, ge=0)
    max_drawdown_weight: Number = Field(default=1.0, ge=0)
    avg_drawdown_weight: Number = Field(default=1.0, ge=0)


class _Normalization(_Section):
    central_values: dict[StrictStr, Number] = Field(default_factory=dict)
    std_values: dict[StrictStr, Number] = Field(default_factory=dict)

    @field_validator("std_values")
    @classmethod
    def _positive(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: x for k, x in v.items() if not x > 0}
        if bad:
            raise ValueError(f"expected positive standard deviations, got {bad}")
        return v


class _Selection(_Section):
    performance_metrics: _Weights = _Weights()
    normalization: _Normalization = _Normalization()


@dataclass(frozen=True)
class ModelEntry:
    """One model of a switching config.

    ``kind`` is ``"cash"`` (no file), ``"file"`` (the model's data file only)
    or ``"config"`` (the model's own JSON config; ``data_file`` is then the
    file of the chosen format in that config's ``performance_store``).
    ``config_path`` is the model's config when known (given, or found next to
    its data file as ``pytaaa_<name>.json``), which lets pytaaa run the model
    and use its picks.
    """

    name: str
    kind: Literal["cash", "file", "config"]
    data_file: Path | None = None
    config_path: Path | None = None


@dataclass(frozen=True)
class SwitchingSettings:
    """The validated switching settings of a config (see the module docstring)."""

    path: Path
    base_folder: Path
    models: tuple[ModelEntry, ...]
    data_format: str
    trading_frequency: str
    lookbacks: tuple[int, ...]
    weights: dict[str, float]
    central_values: dict[str, float]
    std_values: dict[str, float]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.models)

    def entry(self, name: str) -> ModelEntry | None:
        """The model called ``name`` (case-insensitive), or None."""
        for m in self.models:
            if m.name.lower() == name.strip().lower():
                return m
        return None


def is_switching_config(cfg: Config) -> bool:
    """True when the config's JSON has a ``models`` section."""
    return isinstance(cfg.raw, dict) and "models" in cfg.raw


def _section(raw: dict[str, Any], key: str, schema: type[BaseModel],
             problems: list[str]) -> Any:
    data = raw.get(key, {})
    if not isinstance(data, dict):
        problems.append(f"{key}: expected a JSON object")
        return None
    try:
        return schema.model_validate(data)
    except ValidationError as err:
        problems += _problems(key, err, data)
        return None


def _find_model_config(name: str, data_file: Path, base: Path) -> Path | None:
    """The model's own config next to its data file (PyTAAA's places), if any."""
    store = data_file.parent
    for cand in (store / f"pytaaa_{name}.json", store.parent / f"pytaaa_{name}.json",
                 base / name / f"pytaaa_{name}.json"):
        if cand.is_file():
            return cand
    return None


def _resolve(path_text: str, folder: Path) -> Path:
    p = Path(os.path.expanduser(path_text))
    return Path(os.path.normpath(p if p.is_absolute() else folder / p))


def _entry(name: str, text: str, *, base: Path, folder: Path, data_name: str,
           problems: list[str]) -> ModelEntry | None:
    if not text.strip():
        return ModelEntry(name, "cash")
    try:
        filled = text.format(base_folder=str(base), data_file=data_name)
    except (KeyError, IndexError, ValueError) as exc:
        problems.append(f"models.model_choices.{name}: {text!r} is invalid: only "
                        f"{{base_folder}} and {{data_file}} may be used ({exc})")
        return None
    path = _resolve(filled, folder)
    if path.suffix.lower() == ".json":
        from pytaaa.config import load_config

        if not path.is_file():
            # a missing model is a warning when the series are read (models.md section 1)
            return ModelEntry(name, "config", None, path)
        try:
            model_cfg = load_config(path)
        except ConfigError as err:
            problems.append(f"models.model_choices.{name}: its config {path} is invalid: "
                            + "; ".join(err.problems))
            return None
        return ModelEntry(name, "config", model_cfg.performance_store / data_name, path)
    return ModelEntry(name, "file", path, _find_model_config(name, path, base))


def read_switching(cfg: Config) -> SwitchingSettings:
    """Read and validate the switching settings of ``cfg`` (its raw JSON).

    Returns a :class:`SwitchingSettings`; raises :class:`SwitchingConfigError`
    naming every bad key and value when the ``models`` section is missing or
    invalid, when a template uses other template fields than ``{base_folder}``
    and ``{data_file}``, or when a model's own config is invalid.  Model files
    are not opened here: a missing one is a warning when the series are read.
    """
    raw = cfg.raw if isinstance(cfg.raw, dict) else {}
    if "models" not in raw:
        raise SwitchingConfigError(cfg.path, ["models: missing required section (a switching "
                                              "config names its models there)"])
    problems: list[str] = []
    models = _section(raw, "models", _Models, problems)
    mc = _section(raw, "monte_carlo", _MonteCarlo, problems)
    rec = _section(raw, "recommendation_mode", _Recommendation, problems)
    sel = _section(raw, "model_selection", _Selection, problems)
    if problems or models is None or mc is None or rec is None or sel is None:
        raise SwitchingConfigError(cfg.path, problems)
    folder = cfg.path.parent
    base = _resolve(models.base_folder, folder) if models.base_folder else folder
    data_name = DATA_FILES[mc.data_format]
    entries = [_entry(n, t, base=base, folder=folder, data_name=data_name, problems=problems)
               for n, t in models.model_choices.items()]
    if problems:
        raise SwitchingConfigError(cfg.path, problems)
    entries_ok = [e for e in entries if e is not None]
    if not any(e.kind == "cash" for e in entries_ok):
        entries_ok.append(ModelEntry("cash", "cash"))
    w = sel.performance_metrics
    return SwitchingSettings(
        path=cfg.path,
        base_folder=base,
        models=tuple(sorted(entries_ok, key=lambda e: e.name)),
        data_format=mc.data_format,
        trading_frequency=mc.trading_frequency,
        lookbacks=tuple(sorted(set(rec.default_lookbacks))),
        weights={m: float(getattr(w, f"{m}_weight")) for m in METRICS},
        central_values={m: float(sel.normalization.central_values.get(m, 0.0)) for m in METRICS},
        std_values={m: float(sel.normalization.std_values.get(m, 1.0)) for m in METRICS},
    )
