"""Bad config bytes and values on every command: one `error:` line and exit 2, never a
traceback, never a hang (decoding, deep nesting, Infinity, NUL bytes, unbounded periods),
plus property-based fuzzing of the config schema with hypothesis."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytaaa.cli.app import main
from pytaaa.config import ConfigError, load_config

BASE = {
    "symbols_file": "data/naz100_symbols.txt", "performance_store": "perf", "webpage": "web",
    "stockList": "Naz100", "uptrendSignalMethod": "HMAs", "numberStocksTraded": 7,
    "monthsToHold": 1, "LongPeriod": 104, "stddevThreshold": 5.0, "MA1": 151, "MA2": 14,
    "MA3": 22, "sma2factor": 1.0,
}
CHANNELS = dict(BASE, uptrendSignalMethod="minmaxChannels", narrowDays_min=5, narrowDays_max=10,
                mediumDays_min=20, mediumDays_max=40, wideDays_min=60, wideDays_max=120)


def _deep(n: int) -> str:
    return "[" * n + "]" * n


CASES = {
    "latin-1": ('{"Valuation": {"stockList": "Caf\xe9"}}'.encode("latin-1"), "is not UTF-8"),
    "utf-16": (json.dumps({"Valuation": BASE}).encode("utf-16"), "UTF-16 text: expected UTF-8"),
    "deep-json": (('{"Valuation": %s, "Setup": {"x": %s}}' % (json.dumps(BASE), _deep(5000)))
                  .encode(), "nested too deeply"),
    "deep-json-100": (('{"Valuation": %s, "Setup": {"x": %s}}' % (json.dumps(BASE), _deep(100)))
                      .encode(), "nested deeper than 32 levels"),
    "inf-fee": (json.dumps({"Valuation": dict(BASE, trade_fee=float("inf"))}).encode(),
                "Valuation.trade_fee: Infinity is invalid: expected a finite number"),
    "inf-adjust": (json.dumps({"Valuation": dict(BASE, min_adjust_dollars=float("inf"))}).encode(),
                   "Valuation.min_adjust_dollars: Infinity is invalid"),
    "inf-wide": (json.dumps({"Valuation": dict(CHANNELS, wideDays_max=float("inf"))}).encode(),
                 "Valuation.wideDays_max: Infinity is invalid"),
    "nul-webpage": (json.dumps({"Valuation": dict(BASE, webpage="we\x00b")}).encode(),
                    'Valuation.webpage: "we\\u0000b" contains a NUL byte'),
    "huge-periods": (json.dumps({"Valuation": dict(
        BASE, uptrendSignalMethod="percentileChannels", lowPct=20, hiPct=80, minperiod=4,
        maxperiod=1600, incperiod=1)}).encode(), "Valuation.maxperiod: 1600 is invalid"),
    "many-channels": (json.dumps({"Valuation": dict(
        BASE, uptrendSignalMethod="percentileChannels", lowPct=20, hiPct=80, minperiod=2,
        maxperiod=200, incperiod=1)}).encode(), "give 198 channel periods: expected at most 20"),
    "huge-fee": (json.dumps({"Valuation": dict(BASE, trade_fee=1e300)}).encode(),
                 "Valuation.trade_fee: 1e+300 is invalid"),
}
COMMANDS = {
    "run": ["run", "--json", "{cfg}"],
    "charts": ["charts", "--json", "{cfg}"],
    "montecarlo": ["montecarlo", "--json", "{cfg}"],
    "jobs": ["jobs", "--json", "{cfg}"],
    "serve": ["serve", "--json", "{cfg}", "--port", "0"],
    "import-csv": ["data", "import-csv", "--json", "{cfg}", "{csv}"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_command_gives_one_line_and_exit_2(tmp_path: Path, command: str, case: str) -> None:
    content, expect = CASES[case]
    cfg = tmp_path / "cfg.json"
    cfg.write_bytes(content)
    csv = tmp_path / "AAA.csv"
    csv.write_text("Date,Adj Close\n2020-01-02,10\n")
    args = [a.format(cfg=cfg, csv=csv) for a in COMMANDS[command]]
    before = sorted(tmp_path.rglob("*"))
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2, (res.output, res.exception)
    assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit)
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    assert expect in lines[0] and str(cfg) in lines[0]
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.slow
def test_a_real_process_prints_no_traceback_for_each_case(tmp_path: Path) -> None:
    for case, (content, expect) in CASES.items():
        cfg = tmp_path / f"{case}.json"
        cfg.write_bytes(content)
        res = subprocess.run([sys.executable, "-m", "pytaaa", "run", "--json", str(cfg)],
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 2, (case, res.stderr)
        assert res.stderr.count("\n") == 1 and expect in res.stderr, (case, res.stderr)


# --------------------------------------------------------------------------- fuzzing
NUMBER_KEYS = ["numberStocksTraded", "monthsToHold", "LongPeriod", "stddevThreshold", "MA1",
               "MA2", "MA3", "sma2factor", "minperiod", "maxperiod", "incperiod", "numdaysinfit",
               "offset", "trade_cost", "window_size", "max_weight_factor", "trade_fee",
               "min_buy_dollars", "min_adjust_dollars", "montecarlo_trials",
               "plot_generation_workers", "job_cancel_grace_seconds", "montecarlo_seed",
               "plot_freshness_hours", "lowPct", "hiPct"]
ODD_VALUES = st.one_of(
    st.integers(min_value=-3, max_value=3), st.sampled_from([2520, 2521, 252, 253, 10**6, 10**18,
                                                             2**64, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1e308, 1e-308, -0.0]),
    st.text(max_size=5), st.booleans(), st.none(), st.lists(st.integers(), max_size=3),
    st.recursive(st.integers(), lambda c: st.lists(c, max_size=2), max_leaves=40),
)


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["HMAs", "SMAs", "percentileChannels", "minmaxChannels"]),
       changes=st.dictionaries(st.sampled_from(NUMBER_KEYS), ODD_VALUES, max_size=4))
def test_fuzzed_configs_load_or_give_clear_problems(tmp_path: Path, method: str,
                                                     changes: dict) -> None:
    val = dict(CHANNELS, uptrendSignalMethod=method, lowPct=20, hiPct=80)
    val.update(changes)
    cfg = tmp_path / "fuzz.json"
    cfg.write_text(json.dumps({"Valuation": val}))
    try:
        config = load_config(cfg)
    except ConfigError as err:
        assert err.problems and all(p and "\n" not in p for p in err.problems)
        assert all(str(cfg) in line for line in str(err).splitlines())
        return
    v = config.valuation
    assert v.LongPeriod <= 2520 and len(v.channel_periods) >= 1
    for key in ("trade_fee", "min_buy_dollars", "min_adjust_dollars", "stddevThreshold"):
        assert 0 <= getattr(v, key) <= 1e12


@pytest.fixture(scope="module")
def tiny_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pytaaa.data.synth import write_workspace

    return write_workspace(tmp_path_factory.mktemp("fuzz_ws"), n_symbols=6, years=3.0, seed=2)


@pytest.mark.slow
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(method=st.sampled_from(["HMAs", "SMAs", "percentileChannels", "minmaxChannels"]),
       changes=st.dictionaries(st.sampled_from(NUMBER_KEYS), ODD_VALUES, max_size=3))
def test_fuzzed_configs_run_to_exit_0_1_or_2_quickly(tiny_workspace: Path, tmp_path_factory,
                                                     method: str, changes: dict) -> None:
    data = json.loads(tiny_workspace.read_text())
    symbols = tiny_workspace.parent / data["Valuation"]["symbols_file"]
    data["Valuation"].update(CHANNELS | {"symbols_file": str(symbols),
                                         "stockList": data["Valuation"]["stockList"]})
    data["Valuation"].update(uptrendSignalMethod=method, lowPct=20, hiPct=80,
                             plot_generation_hours=[], montecarlo_trials=1)
    data["Valuation"].update(changes)
    folder = tmp_path_factory.mktemp("fuzz_run")
    data["Valuation"].update(performance_store=str(folder / "perf"), webpage=str(folder / "web"))
    cfg = folder / "cfg.json"
    cfg.write_text(json.dumps(data))
    res = subprocess.run([sys.executable, "-m", "pytaaa", "run", "--json", str(cfg), "--no-email",
                          "--sync"], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in res.stderr
    assert res.returncode in (0, 1, 2), res.stderr
    if res.returncode == 2:  # one line per problem, nothing else
        lines = res.stderr.splitlines()
        assert lines and all(ln.startswith("error: ") for ln in lines), lines
