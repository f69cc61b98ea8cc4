"""Configuration: PyTAAA's JSON layout, validated up front.

A config file is a JSON object with a required ``Valuation`` section (strategy
and paths) and optional ``Email``, ``stock_server``, ``Setup``, ``FTP`` and
``Text_from_email`` sections.  :func:`load_config` reads it, validates every
key with a pydantic schema and returns a :class:`Config`.  Every problem is
reported at once, one line each, naming the key path, the value and what was
expected; the CLI turns :class:`ConfigError` into exit status 2.

Relative paths in ``Valuation`` are resolved against the folder of the config
file, so a workspace can be moved as a whole.  Unknown keys are accepted and
reported in one warning.  Every key is documented in ``docs/configuration.md``
(a test keeps that file and this schema in step).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = ["Config", "ConfigError", "EmailConfig", "Valuation", "load_config", "METHODS"]

log = logging.getLogger(__name__)

METHODS = ("SMAs", "HMAs", "minmaxChannels", "percentileChannels")

Number = StrictFloat | StrictInt

# Keys PyTAAA configs carry that pytaaa reads nowhere; accepted silently.
LEGACY_KEYS = frozenset(
    {
        "rankThresholdPct",
        "riskDownside_min",
        "riskDownside_max",
        "longShort_min",
        "longShort_max",
        "longShort",
        "lowPctLong",
        "hiPctLong",
        "uptrendSignalMethodShort",
        "stockListShort",
        "num_stocks",
        "runnum",
        "MA2offset",
        "sma_filt_val",
        "ma1_factor",
        "ma2_factor",
        "MA2factor",
        "numberStocksTraded_short",
        "abacus",
        "model_switching",
    }
)


class ConfigError(ValueError):
    """A config file that cannot be used.  ``problems`` holds one line per problem."""

    def __init__(self, path: str | os.PathLike[str], problems: list[str]):
        self.path = str(path)
        self.problems = list(problems)
        super().__init__("\n".join(f"{self.path}: {p}" for p in self.problems))


#: Largest period in trading days (10 years) and amount in dollars a config may give.
MAX_DAYS = 2520
MAX_DOLLARS = 1e12
#: percentileChannels sorts every window: its periods and their number are kept small.
MAX_CHANNEL_PERIOD = 252
MAX_CHANNEL_PERIODS = 20
#: JSON nesting deeper than this is refused (PyTAAA configs nest 2 levels).
MAX_DEPTH = 32


class _Section(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, frozen=True, allow_inf_nan=False)


class Valuation(_Section):
    """The ``Valuation`` section: strategy parameters, paths and job settings."""

    # paths and universe
    symbols_file: Path
    performance_store: Path
    webpage: Path
    stockList: StrictStr
    # strategy
    uptrendSignalMethod: Literal["SMAs", "HMAs", "minmaxChannels", "percentileChannels"]
    numberStocksTraded: StrictInt = Field(ge=1, le=20)
    monthsToHold: StrictInt = Field(ge=1, le=12)
    LongPeriod: StrictInt = Field(ge=2, le=MAX_DAYS)
    stddevThreshold: Number = Field(gt=0, le=1e6)
    MA1: StrictInt | None = Field(default=None, ge=2, le=MAX_DAYS)
    MA2: StrictInt | None = Field(default=None, ge=1, le=MAX_DAYS)
    MA3: StrictInt | None = Field(default=None, ge=1, le=MAX_DAYS)
    sma2factor: Number | None = Field(default=None, gt=0, le=100)
    lowPct: Number | None = Field(default=None, ge=0, le=100)
    hiPct: Number | None = Field(default=None, ge=0, le=100)
    minperiod: StrictInt = Field(default=4, ge=1, le=MAX_CHANNEL_PERIOD)
    maxperiod: StrictInt = Field(default=12, ge=2, le=MAX_CHANNEL_PERIOD)
    incperiod: StrictInt = Field(default=3, ge=1, le=MAX_CHANNEL_PERIOD)
    narrowDays_min: Number | None = Field(default=None, ge=1, le=MAX_DAYS)
    narrowDays_max: Number | None = Field(default=None, ge=1, le=MAX_DAYS)
    mediumDays_min: Number | None = Field(default=None, ge=1, le=MAX_DAYS)
    mediumDays_max: Number | None = Field(default=None, ge=1, le=MAX_DAYS)
    wideDays_min: Number | None = Field(default=None, ge=1, le=MAX_DAYS)
    wideDays_max: Number | None = Field(default=None, ge=1, le=MAX_DAYS)
    numdaysinfit: StrictInt = Field(default=50, ge=2, le=MAX_DAYS)
    numdaysinfit2: StrictInt = Field(default=15, ge=2, le=MAX_DAYS)
    offset: StrictInt = Field(default=7, ge=0, le=MAX_DAYS)
    trade_cost: Number = Field(default=7.95, ge=0, le=MAX_DOLLARS)
    enable_rolling_filter: StrictBool = False
    window_size: StrictInt = Field(default=50, ge=2, le=MAX_DAYS)
    # real-world quotes (data-quality.md)
    stale_quote_days: StrictInt = Field(default=5, ge=1, le=250)
    data_warning_days: StrictInt = Field(default=30, ge=1, le=3650)
    max_weight_factor: Number = Field(default=3.0, gt=0, le=1000)
    min_weight_factor: Number = Field(default=0.3, ge=0, le=1000)
    absolute_max_weight: Number = Field(default=0.9, gt=0, le=1)
    # per-symbol charts (seed 000)
    async_plot_generation: StrictBool = False
    plot_generation_workers: StrictInt = Field(default=2, ge=1, le=64)
    plot_freshness_hours: Number = Field(default=20.0, ge=0, le=87600)
    plot_generation_hours: list[StrictInt] | None = Field(default=None, max_length=24)
    recent_plot_start_date: dt.date | None = None
    # Monte Carlo (seed 001)
    async_montecarlo_backtest: StrictBool = True
    montecarlo_trials: StrictInt | None = Field(default=None, ge=1, le=1000)
    montecarlo_seed: StrictInt = Field(default=0, ge=0, le=2**63 - 1)
    montecarlo_hold_months: list[StrictInt] = Field(
        default_factory=lambda: [1, 1, 1, 2, 2, 3, 4, 6, 12], max_length=120
    )
    montecarlo_freshness_hours: Number = Field(default=20.0, ge=0, le=87600)
    montecarlo_recent_start_date: dt.date = dt.date(2013, 1, 1)
    montecarlo_workers: StrictInt = Field(default=2, ge=1, le=64)
    dask_scheduler: StrictStr | None = None  # Monte Carlo and searches on a Dask cluster
    # background jobs
    job_cancel_grace_seconds: Number = Field(default=5.0, ge=0, le=3600)
    # holdings and trades
    trade_fee: Number = Field(default=4.95, ge=0, le=MAX_DOLLARS)
    min_buy_dollars: Number = Field(default=800.0, ge=0, le=MAX_DOLLARS)
    min_adjust_dollars: Number = Field(default=400.0, ge=0, le=MAX_DOLLARS)
    ledger_auto_update: StrictBool = False

    @field_validator("recent_plot_start_date", "montecarlo_recent_start_date", mode="before")
    @classmethod
    def _parse_date(cls, v: Any) -> Any:
        if isinstance(v, str):
            try:
                return dt.date.fromisoformat(v)
            except ValueError as exc:
                raise ValueError("expected a date YYYY-MM-DD") from exc
        if v is not None and not isinstance(v, dt.date):
            raise ValueError("expected a date string YYYY-MM-DD")
        return v

    @field_validator("symbols_file", "performance_store", "webpage", mode="before")
    @classmethod
    def _parse_path(cls, v: Any) -> Any:
        if isinstance(v, Path):
            return v
        if not isinstance(v, str) or not v.strip():
            raise ValueError("expected a non-empty path string")
        if "\x00" in v:
            raise ValueError("contains a NUL byte: expected a path")
        return Path(os.path.expanduser(v))

    @field_validator("plot_generation_hours")
    @classmethod
    def _hours(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and any(not 0 <= h <= 23 for h in v):
            raise ValueError("expected a list of hours between 0 and 23")
        return v

    @field_validator("montecarlo_hold_months")
    @classmethod
    def _hold_months(cls, v: list[int]) -> list[int]:
        if not v or any(not 1 <= m <= 12 for m in v):
            raise ValueError("expected a non-empty list of months between 1 and 12")
        return v

    @model_validator(mode="after")
    def _method_keys(self) -> Valuation:
        need: tuple[str, ...] = ()
        m = self.uptrendSignalMethod
        if m in ("SMAs", "HMAs"):
            need = ("MA1", "MA2", "MA3", "sma2factor")
        elif m == "percentileChannels":
            need = ("lowPct", "hiPct")
        elif m == "minmaxChannels":
            need = tuple(
                f"{w}Days_{e}" for w in ("narrow", "medium", "wide") for e in ("min", "max")
            )
        missing = [k for k in need if getattr(self, k) is None]
        if missing:
            raise ValueError(
                f"uptrendSignalMethod {m!r} needs the keys {', '.join(missing)}"
            )
        if m == "percentileChannels" and not self.lowPct < self.hiPct:  # type: ignore[operator]
            raise ValueError(f"lowPct ({self.lowPct}) must be below hiPct ({self.hiPct})")
        if not self.minperiod < self.maxperiod:
            raise ValueError(
                f"minperiod ({self.minperiod}) must be below maxperiod ({self.maxperiod})"
            )
        n = len(self.channel_periods)
        if m == "percentileChannels" and n > MAX_CHANNEL_PERIODS:
            raise ValueError(
                f"minperiod {self.minperiod}, maxperiod {self.maxperiod}, incperiod "
                f"{self.incperiod} give {n} channel periods: expected at most "
                f"{MAX_CHANNEL_PERIODS} (raise incperiod)"
            )
        return self

    # ---- derived values ----------------------------------------------------
    @property
    def method(self) -> str:
        return self.uptrendSignalMethod

    @property
    def channel_periods(self) -> list[int]:
        """``range(minperiod, maxperiod, incperiod)`` as a list."""
        return list(range(self.minperiod, self.maxperiod, self.incperiod))

    def recent_start(self, today: dt.date | None = None) -> dt.date:
        """Start of the recent chart: the configured date or 1 Jan of (this year - 4)."""
        if self.recent_plot_start_date is not None:
            return self.recent_plot_start_date
        today = today or dt.date.today()
        return dt.date(today.year - 4, 1, 1)

    def unknown_keys(self) -> list[str]:
        extra = self.model_extra or {}
        return sorted(k for k in extra if k not in LEGACY_KEYS)


class EmailConfig(_Section):
    """The optional ``Email`` section.  ``PW`` never appears in logs or messages."""

    From: StrictStr | None = None
    To: StrictStr | list[StrictStr] | None = None
    PW: StrictStr | None = Field(default=None, repr=False)
    smtp_host: StrictStr = "smtp.gmail.com"
    smtp_port: StrictInt = Field(default=587, ge=1, le=65535)
    starttls: StrictBool = True
    login: StrictStr | None = None
    enabled: StrictBool = True
    web_url: StrictStr | None = None

    @property
    def recipients(self) -> list[str]:
        if self.To is None:
            return []
        items = [self.To] if isinstance(self.To, str) else list(self.To)
        out: list[str] = []
        for item in items:
            out.extend(a.strip() for a in item.replace(";", ",").split(",") if a.strip())
        return out

    def password(self) -> str | None:
        """The SMTP password: ``PYTAAA_SMTP_PASSWORD`` wins over the file's ``PW``."""
        return os.environ.get("PYTAAA_SMTP_PASSWORD") or self.PW

    @property
    def configured(self) -> bool:
        return self.enabled and bool(self.From) and bool(self.recipients)


class Config(BaseModel):
    """A validated config: ``valuation``, ``email`` and the file it came from."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    path: Path
    valuation: Valuation
    email: EmailConfig = EmailConfig()
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    @property
    def v(self) -> Valuation:
        return self.valuation

    @property
    def webpage(self) -> Path:
        return self.valuation.webpage

    @property
    def performance_store(self) -> Path:
        return self.valuation.performance_store

    @property
    def symbols_file(self) -> Path:
        return self.valuation.symbols_file

    def with_valuation(self, **changes: Any) -> Config:
        """A copy whose ``Valuation`` has ``changes`` applied and re-validated."""
        data = self.valuation.model_dump()
        data.update(changes)
        return self.model_copy(update={"valuation": Valuation.model_validate(data, strict=False)})


def _fmt_loc(section: str, loc: tuple[Any, ...]) -> str:
    parts = [section] + [str(p) for p in loc if not str(p).startswith("function-")]
    # pydantic puts union members in the location (e.g. 'int', 'float'); drop them
    parts = [p for p in parts if p not in {"int", "float", "str", "list[str]", "constrained-float"}]
    out = parts[0]
    for p in parts[1:]:
        out += f"[{p}]" if p.isdigit() else f".{p}"
    return out


def _problems(section: str, err: ValidationError, data: dict[str, Any]) -> list[str]:
    seen: set[tuple[str, str]] = set()
    lines: list[str] = []
    for e in err.errors(include_url=False):
        loc = _fmt_loc(section, e["loc"])
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        key = (loc, e["type"] if e["type"] != "missing" else "missing")
        if key in seen:
            continue
        seen.add(key)
        if e["type"] == "missing":
            lines.append(f"{loc}: missing required key")
        elif loc == section:
            lines.append(f"{loc}: {msg}")
        else:
            value = e.get("input")
            shown = "<hidden>" if loc.endswith(".PW") else json.dumps(value, default=str)
            lines.append(f"{loc}: {shown} is invalid: {msg}")
    # collapse union noise: keep the first line per key path
    out: list[str] = []
    paths: set[str] = set()
    for line in lines:
        p = line.split(":", 1)[0]
        if p in paths:
            continue
        paths.add(p)
        out.append(line)
    return out


def _decode_config(path: Path, data: bytes) -> str:
    """The text of a config file: UTF-8 (a BOM is allowed); raises :class:`ConfigError`
    naming the encoding problem otherwise."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(path, ["the file is UTF-16 text: expected UTF-8 (save it as UTF-8)"])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(path, [
            f"byte 0x{data[exc.start]:02x} at offset {exc.start} is not UTF-8: expected UTF-8 "
            "text (save the file as UTF-8)"]) from None


def _structure_problems(data: dict[str, Any]) -> list[str]:
    """Problems of the parsed JSON as a whole, each naming its key path: nesting deeper
    than :data:`MAX_DEPTH`, a NUL byte in a string or key, a number that is not finite
    (``NaN``, ``Infinity``).  Walks without recursion, so any depth is safe."""
    problems: list[str] = []
    stack: list[tuple[str, Any, int]] = [(str(k), v, 1) for k, v in reversed(data.items())]
    while stack and len(problems) < 10:
        where, value, depth = stack.pop()
        if "\x00" in where:
            problems.append(f"{where!r}: a key contains a NUL byte: expected text")
        if depth > MAX_DEPTH:
            problems.append(f"{where}: nested deeper than {MAX_DEPTH} levels: expected a "
                            "flat PyTAAA config")
            continue
        if isinstance(value, dict):
            stack.extend((f"{where}.{k}", v, depth + 1) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", v, depth + 1)
                         for i, v in reversed(list(enumerate(value))))
        elif isinstance(value, str) and "\x00" in value:
            problems.append(f"{where}: {json.dumps(value)} contains a NUL byte: expected text")
        elif isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{where}: {json.dumps(value)} is invalid: expected a finite number")
    return problems


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a PyTAAA JSON config file.

    Reads ``path``; resolves relative paths of ``Valuation`` against its folder.
    Returns a frozen :class:`Config`.  Raises :class:`ConfigError` (with one
    line per problem) for a missing or unreadable file, malformed JSON, a
    missing section or key, a value of the wrong type (``"false"`` is not a
    boolean) or out of its bounds, an unknown signal method, a file that is not
    UTF-8, JSON nested deeper than :data:`MAX_DEPTH`, ``NaN``/``Infinity`` or a
    NUL byte anywhere.  Logs one warning listing unknown keys.
    """
    path = Path(path)
    try:
        raw_bytes = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(path, ["config file not found"]) from None
    except OSError as exc:
        raise ConfigError(path, [f"cannot read config file: {exc.strerror}"]) from None
    text = _decode_config(path, raw_bytes)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            path, [f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"]
        ) from None
    except RecursionError:
        raise ConfigError(path, [f"JSON nested too deeply: expected at most {MAX_DEPTH} "
                                 "levels"]) from None
    if not isinstance(data, dict):
        raise ConfigError(path, ["expected a JSON object with a 'Valuation' section"])
    problems: list[str] = _structure_problems(data)
    if problems:
        raise ConfigError(path, problems)
    val_data = data.get("Valuation")
    if val_data is None:
        raise ConfigError(path, ["Valuation: missing required section"])
    if not isinstance(val_data, dict):
        raise ConfigError(path, ["Valuation: expected a JSON object"])
    valuation = email = None
    try:
        valuation = Valuation.model_validate(val_data)
    except ValidationError as err:
        problems += _problems("Valuation", err, val_data)
    email_data = data.get("Email") or {}
    if not isinstance(email_data, dict):
        problems.append("Email: expected a JSON object")
    else:
        try:
            email = EmailConfig.model_validate(email_data)
        except ValidationError as err:
            problems += _problems("Email", err, email_data)
    if problems or valuation is None or email is None:
        raise ConfigError(path, problems)
    base = path.resolve().parent
    fixed = {
        k: (getattr(valuation, k) if getattr(valuation, k).is_absolute() else base / getattr(valuation, k))
        for k in ("symbols_file", "performance_store", "webpage")
    }
    valuation = valuation.model_copy(update=fixed)
    unknown = valuation.unknown_keys()
    if unknown:
        log.warning("%s: unknown keys in Valuation ignored: %s", path, ", ".join(unknown))
    return Config(path=path.resolve(), valuation=valuation, email=email, raw=data)
