"""pytaaa: a tactical asset allocation advisor.

The public API, imported on first use so that ``import pytaaa`` stays cheap
(the background jobs and the CLI import it at start-up)::

    import pytaaa

    cfg = pytaaa.load_config("pytaaa.json")       # validated PyTAAA JSON config
    analysis = pytaaa.analyze(cfg)                # signals, ranking, backtest (no writes)
    result = pytaaa.daily_run(cfg)                # the whole daily run, jobs included
    pytaaa.read_status(cfg.webpage, "charts")     # a background job's status

Everything else lives in modules named for what they do (see
``docs/architecture.md``).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "Config": "config",
    "ConfigError": "config",
    "load_config": "config",
    "Quotes": "model",
    "Prices": "model",
    "Signals": "model",
    "Analysis": "model",
    "analyze": "engine.analysis",
    "analyze_quotes": "engine.analysis",
    "daily_run": "pipeline",
    "RunResult": "pipeline",
    "RunError": "pipeline",
    "read_store": "data.store",
    "write_store": "data.store",
    "StoreError": "data.store",
    "synthetic_quotes": "data.synth",
    "write_workspace": "data.synth",
    "start_charts": "charts.start",
    "start_montecarlo": "montecarlo.start",
    "JobStatus": "jobs.status",
    "read_status": "jobs.status",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first access."""
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'pytaaa' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"pytaaa.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
