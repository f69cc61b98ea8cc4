"""A deterministic synthetic universe and demo workspace (no network needed).

:func:`synthetic_quotes` draws about 35 years of weekday closes for about 100
fictional tickers from a seeded numpy generator: a market factor that switches
between bull and bear regimes and suffers a few market-wide crashes at the
dates of the real ones (1987, 2000-2002, 2008, 2020), per-ticker beta, drift
and volatility that change by regime, fat-tailed daily moves, tickers listed
late and delisted early, occasional missing days and a few one-day upward bad
prints for the despiker.  :func:`write_workspace` turns it into a complete
PyTAAA-layout workspace (store, side files, holdings, config).
"""

from __future__ import annotations

import datetime as dt
import json
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from pytaaa._io import atomic_write_text
from pytaaa.config import METHODS, load_config
from pytaaa.data.store import store_location, write_store
from pytaaa.model import Quotes

__all__ = [
    "synthetic_quotes",
    "synthetic_tickers",
    "synthetic_company_names",
    "write_workspace",
    "DEFAULT_END",
]

DEFAULT_END = dt.date(2026, 11, 20)

# market-wide crashes: (first day, length in trading days, total market move)
_CRASHES = (
    ("1987-10-14", 5, -0.30),
    ("2000-03-27", 640, -0.45),
    ("2008-09-15", 120, -0.45),
    ("2020-02-20", 23, -0.34),
)
# market regimes: mean length (trading days), annual drift, annual volatility
_BULL = (750.0, 0.16, 0.14)
_BEAR = (130.0, -0.20, 0.24)
# per-ticker regimes: mean length (trading days), drift spread, median volatility (annual)
_STOCK_REGIME_DAYS = 2 * 252
_ALPHA_MEAN, _ALPHA_SD = 0.03, 0.20
_IDIO_VOL = 0.24
_TICKER_SEED = 20_261_120  # tickers do not depend on the price seed
_ROOTS = (
    "Alder", "Brightwater", "Cobalt", "Dunmore", "Ember", "Fairhaven", "Granite", "Halcyon",
    "Ironwood", "Juniper", "Kestrel", "Larkspur", "Meridian", "Northgate", "Orion", "Pinecrest",
    "Quillon", "Redfern", "Silverline", "Tamarack", "Umbra", "Vantor", "Westbrook", "Zephyr",
)
_TRADES = (
    "Systems", "Semiconductor", "Biosciences", "Networks", "Software", "Therapeutics",
    "Logistics", "Energy", "Devices", "Retail", "Media", "Robotics", "Analytics", "Foods",
    "Payments", "Materials", "Pharma", "Cloud", "Instruments", "Communications",
)
_SUFFIXES = ("Inc.", "Corp.", "Holdings", "Group", "Ltd.", "Co.")
_SECTIONS = frozenset({"Valuation", "Email", "stock_server", "Setup", "FTP", "Text_from_email"})


def synthetic_tickers(n: int) -> tuple[str, ...]:
    """``n`` fictional, realistic-looking tickers, sorted; prefix-stable in ``n``.

    Three or four capital letters, at least one of Q, X, Z, J (rare in real
    tickers, though a draw may match one by chance), never ``CASH``.  The
    first ``n`` drawn are the same for every ``n``.  Raises ``ValueError``
    for ``n < 0``.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = np.random.default_rng(_TICKER_SEED)
    letters = np.array(list("ABCDEFGHIKLMNOPRSTUVWY"))
    rare = np.array(list("QXZJ"))
    out: list[str] = []
    while len(out) < n:
        size = 4 if rng.random() < 0.8 else 3
        chars = list(rng.choice(letters, size=size))
        chars[int(rng.integers(1, size))] = str(rng.choice(rare))
        ticker = "".join(chars)
        if ticker not in out and ticker != "CASH":
            out.append(ticker)
    return tuple(sorted(out))


def _weekdays(end: dt.date, years: float) -> np.ndarray:
    last = np.datetime64(end, "D")
    first = last - np.timedelta64(int(round(years * 365.25)), "D") + 1
    days = np.arange(first, last + 1, dtype="datetime64[D]")
    return days[np.is_busday(days)]


def _t_draws(rng: np.random.Generator, df: float, size: tuple[int, ...]) -> np.ndarray:
    """Student-t draws scaled to unit variance (fat tails)."""
    return rng.standard_t(df, size=size) * np.sqrt((df - 2.0) / df)


def _market(rng: np.random.Generator, dates: np.ndarray) -> np.ndarray:
    """Daily log returns of the market factor: regimes plus the crash windows."""
    n_days = len(dates)
    drift = np.empty(n_days)
    vol = np.empty(n_days)
    t, bull = 0, bool(rng.random() < 0.8)
    while t < n_days:
        mean_len, mu, sigma = _BULL if bull else _BEAR
        length = max(20, int(rng.exponential(mean_len)))
        drift[t : t + length] = mu / 252.0
        vol[t : t + length] = sigma / np.sqrt(252.0)
        t, bull = t + length, not bull
    for start, length, move in _CRASHES:
        t0 = int(np.searchsorted(dates, np.datetime64(start, "D")))
        if t0 >= n_days or np.datetime64(start, "D") < dates[0]:
            continue
        t1 = min(n_days, t0 + length)
        drift[t0:t1] = np.log1p(move) / length
        vol[t0:t1] = (0.45 if length < 60 else 0.28) / np.sqrt(252.0)
    return drift - 0.5 * vol**2 + vol * _t_draws(rng, 5.0, (n_days,))


def _spans(rng: np.random.Generator, n: int, n_days: int) -> tuple[np.ndarray, np.ndarray]:
    """First and last quote index per ticker: about 25 % listed late, 10 % delisted early."""
    first = np.zeros(n, dtype=np.int64)
    last = np.full(n, n_days - 1, dtype=np.int64)
    if n < 2 or n_days < 400:
        return first, last
    order = rng.permutation(np.arange(1, n))  # ticker 0 always covers the whole history
    n_late = max(1, round(0.25 * n))
    n_gone = max(1, round(0.10 * n)) if n > 2 else 0
    late, gone = order[:n_late], order[n_late : n_late + n_gone]
    first[late] = rng.integers(int(0.05 * n_days), int(0.80 * n_days), size=len(late))
    low = np.maximum(first[gone] + 260, int(0.30 * n_days))
    last[gone] = rng.integers(low, int(0.95 * n_days), endpoint=True)
    return first, last


def synthetic_quotes(
    n_symbols: int = 100, years: float = 35.0, seed: int = 0, end: dt.date = DEFAULT_END
) -> Quotes:
    """Deterministic synthetic adjusted closes: ``n_symbols`` tickers plus ``CASH``.

    Weekdays from ``years`` before ``end`` up to ``end``; ``close`` is
    ``(n_symbols + 1, T)`` with NaN before a late listing, after an early
    delisting and on occasional missing days; a few one-day upward spikes;
    ``CASH`` (last row) is 1.0.  Same arguments give byte-identical arrays.
    Reads nothing.  Raises ``ValueError`` for ``n_symbols < 1`` or fewer than
    60 weekdays.
    """
    if n_symbols < 1:
        raise ValueError(f"n_symbols must be >= 1, got {n_symbols}")
    dates = _weekdays(end, years)
    n_days = len(dates)
    if n_days < 60:
        raise ValueError(f"years={years} gives {n_days} weekdays; expected at least 60")
    n = n_symbols
    s_market, s_stock, s_span, s_gaps = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    market = _market(s_market, dates)
    # per-ticker regimes: a new drift and volatility every ~2 years on average
    switches = s_stock.random((n, n_days)) < 1.0 / _STOCK_REGIME_DAYS
    switches[:, 0] = False
    segment = np.cumsum(switches, axis=1)
    n_seg = int(segment.max()) + 1
    alpha = s_stock.normal(_ALPHA_MEAN, _ALPHA_SD, size=(n, n_seg)) / 252.0
    idio = np.exp(s_stock.normal(np.log(_IDIO_VOL), 0.35, size=(n, n_seg))) / np.sqrt(252.0)
    beta = s_stock.uniform(0.5, 1.6, size=(n, 1))
    rows = np.arange(n)[:, None]
    a, v = alpha[rows, segment], idio[rows, segment]
    log_ret = beta * market + a - 0.5 * v**2 + v * _t_draws(s_stock, 4.0, (n, n_days))
    log_ret[:, 0] = 0.0
    first, last = _spans(s_span, n, n_days)
    log_p = np.cumsum(log_ret, axis=1)
    start_price = np.exp(s_stock.uniform(np.log(5.0), np.log(120.0), size=n))
    log_p += (np.log(start_price) - log_p[np.arange(n), first])[:, None]
    close = np.exp(log_p)
    # a few one-day bad prints (upward) well inside a ticker's span
    protected = np.zeros((n, n_days), dtype=bool)
    for _ in range(max(2, n // 8)):
        i = int(s_gaps.integers(n))
        lo, hi = first[i] + 150, last[i] - 2
        if hi <= lo:
            continue
        t = int(s_gaps.integers(lo, hi))
        close[i, t] *= s_gaps.uniform(1.6, 3.0)
        protected[i, t - 1 : t + 2] = True
    # missing days: scattered single days and a short gap in some tickers
    t_idx = np.arange(n_days)
    inside = (t_idx > first[:, None]) & (t_idx < last[:, None]) & ~protected
    missing = (s_gaps.random((n, n_days)) < 0.002) & inside
    for i in np.flatnonzero(s_gaps.random(n) < 0.3):
        t0 = int(s_gaps.integers(0, n_days))
        t1 = min(n_days, t0 + int(s_gaps.integers(3, 9)))
        missing[i, t0:t1] = inside[i, t0:t1]
    close[missing | (t_idx < first[:, None]) | (t_idx > last[:, None])] = np.nan
    close = np.vstack([close, np.ones((1, n_days))])
    return Quotes(dates=dates, symbols=synthetic_tickers(n) + ("CASH",), close=close)


def synthetic_company_names(symbols: Iterable[str]) -> dict[str, str]:
    """Deterministic fictional company names, e.g. ``'Kestrel Robotics Corp.'``.

    The name depends only on the ticker (CRC-32), with a later ticker bumped to
    an unused name on a clash; ``CASH`` is ``'Cash'``.  Reads nothing.
    """
    out: dict[str, str] = {}
    used: set[str] = set()
    n_names = len(_ROOTS) * len(_TRADES) * len(_SUFFIXES)
    for ticker in symbols:
        if ticker == "CASH":
            out[ticker] = "Cash"
            continue
        h = zlib.crc32(ticker.encode("utf-8"))
        for bump in range(n_names):
            k = (h + bump * 7919) % n_names
            root, rest = divmod(k, len(_TRADES) * len(_SUFFIXES))
            trade, suffix = divmod(rest, len(_SUFFIXES))
            name = f"{_ROOTS[root]} {_TRADES[trade]} {_SUFFIXES[suffix]}"
            if name not in used:
                break
        used.add(name)
        out[ticker] = name
    return out


def _valid_span(row: np.ndarray) -> tuple[int, int]:
    idx = np.flatnonzero(~np.isnan(row))
    return int(idx[0]), int(idx[-1])


def _changes_text(quotes: Quotes) -> str:
    """Index changes: late listings are "Add", early delistings "Remove", newest first."""
    n_days = len(quotes.dates)
    changes: list[tuple[dt.date, str, str]] = []
    for sym, row in zip(quotes.symbols, quotes.close):
        if sym == "CASH":
            continue
        lo, hi = _valid_span(row)
        if lo > 0:
            changes.append((quotes.dates[lo].item(), "Add", sym))
        if hi < n_days - 1:
            changes.append((quotes.dates[hi + 1].item(), "Remove", sym))
    changes.sort(key=lambda c: (c[0], c[2]), reverse=True)
    lines = ["# Index membership changes (synthetic): YYYY-M-D Add|Remove TICKER, newest first"]
    lines += [f"{d.year}-{d.month}-{d.day} {action} {sym}" for d, action, sym in changes[:10]]
    return "\n".join(lines) + "\n"


def _holdings_text(quotes: Quotes, seed: int) -> str:
    """A plausible ``[Holdings]`` block: 7 stocks bought on a month's first trading day."""
    dates = quotes.dates
    months = dates.astype("datetime64[M]")
    month_starts = np.flatnonzero(np.r_[True, months[1:] != months[:-1]])
    trade_t = int(month_starts[-3] if len(month_starts) >= 3 else month_starts[0])
    ok = [
        i for i, s in enumerate(quotes.symbols)
        if s != "CASH" and np.isfinite(quotes.close[i, trade_t]) and np.isfinite(quotes.close[i, -1])
    ]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    chosen = sorted(rng.choice(ok, size=min(7, len(ok)), replace=False).tolist()) if ok else []
    cash_in = 100_000.0
    stocks, shares, prices = [], [], []
    for i in chosen:
        price = round(float(quotes.close[i, trade_t]), 2)
        stocks.append(quotes.symbols[i])
        shares.append(int(12_000 // price))
        prices.append(price)
    cash = round(cash_in - sum(n * p for n, p in zip(shares, prices)), 2)
    cols = [("CASH", f"{cash:.2f}", "1.00")] + [
        (s, str(n), f"{p:.2f}") for s, n, p in zip(stocks, shares, prices)
    ]
    width = max(len(c) for col in cols for c in col) + 2

    def row(k: int) -> str:
        return "".join(c[k].rjust(width) for c in cols)

    trade_day = dates[trade_t].item()
    return (
        "[Holdings]\n"
        "# Synthetic demo portfolio written by pytaaa (fictional tickers).\n"
        "# Append a new block after each trade; the last stocks/shares/buyprice/\n"
        "# cumulativecashin lines win.\n"
        f"TradeDate: {trade_day.isoformat()}\n"
        f"stocks:   {row(0)}\n"
        f"shares:   {row(1)}\n"
        f"buyprice: {row(2)}\n"
        f"cumulativecashin: {cash_in:.2f}\n"
    )


def _config(method: str, end: dt.date) -> dict[str, Any]:
    """A complete PyTAAA-layout config with paths relative to the workspace."""
    valuation: dict[str, Any] = {
        "symbols_file": "data/naz100_symbols.txt",
        "performance_store": "performance",
        "webpage": "web",
        "stockList": "Naz100",
        "uptrendSignalMethod": method,
        "numberStocksTraded": 7,
        "monthsToHold": 1,
        "LongPeriod": 104,
        "stddevThreshold": 5.0,
        "MA1": 151,
        "MA2": 14,
        "MA3": 22,
        "sma2factor": 1.0,
        "lowPct": 20.0,
        "hiPct": 80.0,
        "minperiod": 4,
        "maxperiod": 12,
        "incperiod": 3,
        "narrowDays_min": 6.0,
        "narrowDays_max": 40.0,
        "mediumDays_min": 25.0,
        "mediumDays_max": 90.0,
        "wideDays_min": 75.0,
        "wideDays_max": 512.0,
        "numdaysinfit": 50,
        "numdaysinfit2": 15,
        "offset": 7,
        "trade_cost": 7.95,
        "async_plot_generation": False,
        "plot_generation_workers": 2,
        "recent_plot_start_date": f"{end.year - 4}-01-01",
        "async_montecarlo_backtest": True,
    }
    email = {
        "From": "pytaaa@example.com",
        "To": "investor@example.com",
        "smtp_host": "127.0.0.1",
        "smtp_port": 587,
        "starttls": True,
        "enabled": False,
    }
    return {"Valuation": valuation, "Email": email}


def write_workspace(
    folder: Path,
    *,
    n_symbols: int = 100,
    years: float = 35.0,
    seed: int = 0,
    method: str = "HMAs",
    config_overrides: dict[str, Any] | None = None,
) -> Path:
    """Write a complete demo workspace in ``folder`` and return its config path.

    Creates ``data/naz100_symbols.txt`` (current members: the tickers not
    delisted), the store ``data/Naz100_Symbols_.hdf5`` (key
    ``Naz100_Symbols``, every ticker plus CASH) with its company-names and
    index-changes side files, ``performance/PyTAAA_holdings.params``, ``web/``
    and ``pytaaa.json`` (method ``method``, relative paths, email disabled).
    ``config_overrides``: a key naming a section (``"Valuation"``, ``"Email"``,
    ...) with a dict value updates that section, any other key updates
    ``Valuation``.  Existing files are overwritten.  Raises ``ValueError`` for
    an unknown method, :class:`pytaaa.config.ConfigError` when the overrides
    make the config invalid, ``OSError`` when ``folder`` cannot be written.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    folder = Path(folder)
    data_dir = folder / "data"
    for sub in (data_dir, folder / "performance", folder / "web"):
        sub.mkdir(parents=True, exist_ok=True)
    quotes = synthetic_quotes(n_symbols, years, seed)
    symbols_file = data_dir / "naz100_symbols.txt"
    store_path, key = store_location(symbols_file)
    write_store(store_path, key, quotes)
    tickers = [s for s in quotes.symbols if s != "CASH"]
    current = [s for s, row in zip(quotes.symbols, quotes.close) if s != "CASH" and not np.isnan(row[-1])]
    atomic_write_text(symbols_file, "".join(f"{t}\n" for t in current))
    names = synthetic_company_names(tickers)
    atomic_write_text(
        data_dir / f"{key}_companyNames.txt", "".join(f"{t};{names[t]}\n" for t in tickers)
    )
    atomic_write_text(data_dir / f"{key}_symbolsChanges.txt", _changes_text(quotes))
    atomic_write_text(folder / "performance" / "PyTAAA_holdings.params", _holdings_text(quotes, seed))
    config = _config(method, quotes.last_date)
    for name, value in (config_overrides or {}).items():
        if name in _SECTIONS and isinstance(value, dict):
            config.setdefault(name, {}).update(value)
        else:
            config["Valuation"][name] = value
    config_path = folder / "pytaaa.json"
    atomic_write_text(config_path, json.dumps(config, indent=2) + "\n")
    load_config(config_path)
    return config_path
