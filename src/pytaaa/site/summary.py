"""The data-quality, performance, holdings and trade keys of ``run_summary.json``.

:func:`run_summary_extras` reads what a daily run computed (a
:class:`~pytaaa.pipeline.RunResult`-like object with ``analysis``,
``data_quality``, ``portfolio``, ``plan``, ``charts`` and ``montecarlo``) and
returns plain JSON-ready values under stable keys (``docs/data-quality.md``):

- ``data_quality``: ``{"summary", "findings": [{symbol, kind, start, end, size,
  detail, fixable}]}`` (the recent window a daily run reports);
- ``performance``: one row per horizon: ``{horizon, start, years, strategy,
  buy_hold}``, each series ``{total_return, cagr (null below a year), volatility,
  sharpe, max_drawdown, mean_drawdown}``;
- ``holdings``: ``{date, total, cash, profit, positions: [{symbol, shares,
  buy_price, price, value, quoted, quote_date, flag}]}`` (null without a ledger);
- ``trade_plan``: ``{trades: [{action, symbol, shares, price, amount, reason}],
  skipped: [{symbol, dollars, reason}], fees, cash_after}`` (null without a ledger);
- ``jobs``: ``{"charts": text, "montecarlo": text}`` for the jobs started.
"""

from __future__ import annotations

from typing import Any

from pytaaa.engine.performance import performance_table

__all__ = ["run_summary_extras"]


def _describe(outcome: Any) -> str | None:
    if outcome is None:
        return None
    text = getattr(outcome, "describe", None)
    return str(text()) if callable(text) else str(outcome)


def run_summary_extras(result: Any) -> dict[str, Any]:
    """The keys above for one run; values are None where the run has nothing."""
    a = result.analysis
    dq = result.data_quality
    pv = result.portfolio
    plan = result.plan
    out: dict[str, Any] = {
        "data_quality": None if dq is None else {
            "summary": dq.summary(), "findings": [f.as_dict() for f in dq.findings]},
        "performance": [] if a is None else [r.as_dict() for r in performance_table(a.backtest)],
        "holdings": None,
        "trade_plan": None,
        "jobs": {"charts": _describe(result.charts), "montecarlo": _describe(result.montecarlo)},
    }
    if pv is not None:
        out["holdings"] = {
            "date": pv.date.isoformat(), "total": pv.total, "cash": pv.cash, "profit": pv.profit,
            "positions": [
                {"symbol": p.symbol, "shares": p.shares, "buy_price": p.buy_price,
                 "price": p.price, "value": p.value, "quoted": p.quoted,
                 "quote_date": p.quote_date.isoformat() if p.quote_date else None,
                 "flag": p.flag}
                for p in pv.positions],
        }
    if plan is not None:
        out["trade_plan"] = {
            "trades": [{"action": t.action, "symbol": t.symbol, "shares": t.shares,
                        "price": t.price, "amount": t.amount, "reason": t.reason}
                       for t in plan.trades],
            "skipped": [{"symbol": s.symbol, "dollars": s.dollars, "reason": s.reason}
                        for s in plan.skipped],
            "fees": plan.fees, "cash_after": plan.cash_after,
        }
    return out
