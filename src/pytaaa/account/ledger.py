"""The user's ledger: ``PyTAAA_holdings.params`` and ``PyTAAA_status.params``.

Holdings (``pipeline.md`` sections 8 and 9)
-------------------------------------------
A user-edited INI file with a ``[Holdings]`` section.  Lines are
``key: value`` (or ``key = value``); keys are case-insensitive; a key may be
repeated and the **last** ``stocks:``, ``shares:``, ``buyprice:`` and
``cumulativecashin:`` win (PyTAAA users append a new block each time they
trade).  An indented line without a key continues the previous value.  Lines
starting with ``#`` or ``;`` are comments; other sections are ignored.  CR, LF
and CRLF line endings (even mixed) are accepted.  List values are split on
white space and commas.  ``CASH`` holds dollars (its buy price is 1).

Trade dates: every ``TradeDate:`` key (also spelled ``trade_date``,
``tradedate`` or ``date``, any case) whose value starts with a date in the form
``YYYY-MM-DD``, ``YYYY-M-D``, ``YYYY/MM/DD`` or ``MM/DD/YYYY`` is collected;
the **earliest** is the first trade date (the start of the annualized return),
the latest is the date of the current block.  A value that is not a date is
ignored with a warning; a file without any trade date has no annualized return.

The status history (``PyTAAA_status.params``) lives in :mod:`pytaaa.account.history`;
its names are re-exported here.

Every write goes through :mod:`pytaaa._io` (temporary file + rename) and keeps
the line-ending convention the file already uses.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pytaaa._io import decode_text, newline_of, update_file
from pytaaa.account.history import (
    STATUS_FILE,
    TIMING_PERIODS,
    StatusEntry,
    StatusHistory,
    append_status,
    format_status_line,
    next_status_entry,
    parse_status,
    read_status,
    timing_signal,
)

__all__ = [
    "HOLDINGS_FILE",
    "MAX_AMOUNT",
    "STATUS_FILE",
    "TIMING_PERIODS",
    "HoldingsError",
    "Holdings",
    "StatusEntry",
    "StatusHistory",
    "read_holdings",
    "parse_holdings",
    "format_holdings_block",
    "append_holdings_block",
    "read_status",
    "parse_status",
    "timing_signal",
    "next_status_entry",
    "format_status_line",
    "append_status",
]

log = logging.getLogger(__name__)

HOLDINGS_FILE = "PyTAAA_holdings.params"
#: The largest share count, price or cash amount a holdings file may hold (keeps the
#: trade arithmetic exact in float64 and every loop over amounts finite).
MAX_AMOUNT = 1e12

_KEY_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_ ]*?)\s*[:=]\s*(.*?)\s*$")
_SECTION_RE = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_DATE_KEYS = {"tradedate", "trade_date", "trade date", "date"}
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y")


class HoldingsError(ValueError):
    """A holdings file that cannot be used; the message names the file, line and key."""


@dataclass(frozen=True)
class Holdings:
    """The user's current holdings, one entry per lot (a symbol may repeat).

    ``shares`` and ``buy_prices`` are aligned with ``symbols``; ``CASH`` holds
    dollars at price 1.  ``first_trade_date`` is the earliest trade date of the
    file (None if it has none), ``last_trade_date`` the latest.
    """

    symbols: tuple[str, ...]
    shares: tuple[float, ...]
    buy_prices: tuple[float, ...]
    cumulative_cash_in: float
    first_trade_date: dt.date | None = None
    last_trade_date: dt.date | None = None
    path: Path | None = None

    @property
    def cost(self) -> float:
        """Cost basis of all lots (CASH at 1.0)."""
        return float(sum(s * p for s, p in zip(self.shares, self.buy_prices)))

    def aggregated(self) -> dict[str, tuple[float, float]]:
        """Symbol -> (total shares, average buy price), lots merged, file order kept."""
        out: dict[str, tuple[float, float]] = {}
        for sym, sh, bp in zip(self.symbols, self.shares, self.buy_prices):
            old_sh, old_bp = out.get(sym, (0.0, 0.0))
            tot = old_sh + sh
            avg = (old_sh * old_bp + sh * bp) / tot if tot > 0 else bp
            out[sym] = (tot, avg)
        return out


# --------------------------------------------------------------------------- helpers
def _parse_date(text: str) -> dt.date | None:
    token = text.strip().split()[0] if text.strip() else ""
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(token, fmt).date()
        except ValueError:
            continue
    return None


def _split_list(value: str) -> list[str]:
    return [t for t in re.split(r"[\s,]+", value.strip()) if t]


def _numbers(path: Path, line: int, key: str, tokens: list[str]) -> list[float]:
    out: list[float] = []
    for tok in tokens:
        try:
            v = float(tok)
        except ValueError:
            raise HoldingsError(
                f"{path}: line {line}: key '{key}': {tok!r} is not a number"
            ) from None
        if not math.isfinite(v) or not 0 <= v <= MAX_AMOUNT:
            raise HoldingsError(
                f"{path}: line {line}: key '{key}': {tok!r} must be a number between 0 and "
                f"{MAX_AMOUNT:g}"
            )
        out.append(v)
    return out


# --------------------------------------------------------------------------- holdings
def parse_holdings(text: str, path: Path | str = "<holdings>") -> Holdings:
    """Parse the text of a holdings file (rules in the module docstring).

    Returns a :class:`Holdings`.  Raises :class:`HoldingsError` naming the file,
    line and key for: no ``[Holdings]`` section, a missing ``stocks``,
    ``shares`` or ``buyprice`` key, lists of different lengths, a value that
    is not a non-negative number.  A missing ``cumulativecashin`` defaults to
    the cost basis (with a warning).
    """
    path = Path(path)
    section: str | None = None
    seen_holdings = False
    values: dict[str, tuple[int, str]] = {}
    dates: list[dt.date] = []
    last_key: str | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped[0] in "#;":
            continue
        m = _SECTION_RE.match(raw)
        if m:
            section = m.group(1).strip().lower()
            seen_holdings = seen_holdings or section == "holdings"
            last_key = None
            continue
        if section != "holdings":
            continue
        m = _KEY_RE.match(raw)
        if m:
            key = m.group(1).strip().lower()
            value = m.group(2)
            last_key = key
            values[key] = (lineno, value)
            if key in _DATE_KEYS:
                d = _parse_date(value)
                if d is None:
                    log.warning(
                        "%s: line %d: %s %r is not a date (expected YYYY-MM-DD); ignored",
                        path, lineno, m.group(1).strip(), value,
                    )
                else:
                    dates.append(d)
            continue
        if last_key is not None and raw[:1].isspace():
            line0, old = values[last_key]
            values[last_key] = (line0, f"{old} {stripped}")
            continue
        raise HoldingsError(
            f"{path}: line {lineno}: cannot read {stripped!r}: expected 'key: value'"
        )
    if not seen_holdings:
        raise HoldingsError(f"{path}: no [Holdings] section found")
    for key in ("stocks", "shares", "buyprice"):
        if key not in values:
            raise HoldingsError(f"{path}: [Holdings] has no '{key}:' key")
    s_line, s_val = values["stocks"]
    symbols = [t.upper() for t in _split_list(s_val)]
    sh_line, sh_val = values["shares"]
    shares = _numbers(path, sh_line, "shares", _split_list(sh_val))
    bp_line, bp_val = values["buyprice"]
    prices = _numbers(path, bp_line, "buyprice", _split_list(bp_val))
    if not (len(symbols) == len(shares) == len(prices)):
        raise HoldingsError(
            f"{path}: lines {s_line}/{sh_line}/{bp_line}: 'stocks' has {len(symbols)} entries, "
            f"'shares' {len(shares)}, 'buyprice' {len(prices)}: expected the same number"
        )
    holdings = Holdings(
        symbols=tuple(symbols),
        shares=tuple(shares),
        buy_prices=tuple(prices),
        cumulative_cash_in=0.0,
        first_trade_date=min(dates) if dates else None,
        last_trade_date=max(dates) if dates else None,
        path=path,
    )
    if "cumulativecashin" in values:
        c_line, c_val = values["cumulativecashin"]
        tokens = _split_list(c_val)
        if not tokens:
            raise HoldingsError(f"{path}: line {c_line}: key 'cumulativecashin' is empty")
        if len(tokens) > 1:
            log.warning("%s: line %d: cumulativecashin has %d values; using the first",
                        path, c_line, len(tokens))
        cash_in = _numbers(path, c_line, "cumulativecashin", tokens[:1])[0]
    else:
        cash_in = holdings.cost
        log.warning("%s: no 'cumulativecashin:' key; using the cost basis %.2f", path, cash_in)
    return replace(holdings, cumulative_cash_in=cash_in)


def read_holdings(path: str | Path) -> Holdings:
    """Read ``PyTAAA_holdings.params`` at ``path``.

    Returns a :class:`Holdings`.  Raises :class:`HoldingsError` when the file is
    missing or unreadable (with a hint on how to create it) or malformed
    (see :func:`parse_holdings`).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise HoldingsError(
            f"{path}: holdings file not found; create it with a [Holdings] section and the "
            "keys TradeDate, stocks, shares, buyprice, cumulativecashin"
        ) from None
    except OSError as exc:
        raise HoldingsError(f"{path}: cannot read holdings file: {exc.strerror}") from None
    return parse_holdings(decode_text(data), path)


def _fmt_num(v: float, decimals: int = 2) -> str:
    if float(v).is_integer():
        return str(int(v))
    return f"{v:.{decimals}f}"


def _fmt_price(v: float) -> str:
    """A buy price with 2 to 4 decimals (``1.00``, ``505.125``, ``33.3333``)."""
    text = f"{v:.4f}".rstrip("0")
    whole, _, dec = text.partition(".")
    return f"{whole}.{dec.ljust(2, '0')}"


def format_holdings_block(
    trade_date: dt.date,
    positions: Sequence[tuple[str, float, float]],
    cumulative_cash_in: float,
) -> str:
    """A holdings block in PyTAAA's layout for ``positions`` (symbol, shares, buy price).

    Returns the text (LF line endings) starting with an empty line, so it can be
    appended after the last block of an existing file.
    """
    syms = " ".join(p[0] for p in positions)
    shs = " ".join(_fmt_num(p[1]) for p in positions)
    bps = " ".join(_fmt_price(p[2]) for p in positions)
    return (
        "\n"
        f"TradeDate: {trade_date.isoformat()}\n"
        f"stocks:      {syms}\n"
        f"shares:      {shs}\n"
        f"buyprice:    {bps}\n"
        f"cumulativecashin: {_fmt_num(cumulative_cash_in)}\n"
    )


def append_holdings_block(
    path: str | Path,
    trade_date: dt.date,
    positions: Sequence[tuple[str, float, float]],
    cumulative_cash_in: float,
) -> bool:
    """Append a new holdings block to the ledger at ``path`` (atomically).

    Does nothing and returns False when the file already has a block for
    ``trade_date`` (so a second run on the same day does not append twice).
    Keeps the file's line endings, permissions and symlink; the check and the
    append run under the folder's lock.  Raises :class:`HoldingsError` when the
    file is missing or malformed, ``OSError`` when it cannot be written.
    """
    path = Path(path)
    read_holdings(path)  # a missing or malformed ledger raises before the lock is taken

    def _append(data: bytes | None) -> bytes | None:
        if data is None:
            raise HoldingsError(f"{path}: holdings file disappeared during the update")
        current = parse_holdings(decode_text(data), path)
        if current.last_trade_date is not None and current.last_trade_date >= trade_date:
            log.info("%s already has a block for %s; ledger not updated", path, trade_date)
            return None
        nl = newline_of(data)
        block = format_holdings_block(trade_date, positions, cumulative_cash_in)
        if data and not data.endswith((b"\n", b"\r")):
            block = "\n" + block
        return data + block.replace("\n", nl).encode("utf-8")

    if not update_file(path, _append):
        return False
    log.info("%s: appended the holdings block of %s", path, trade_date)
    return True
