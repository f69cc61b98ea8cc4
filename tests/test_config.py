"""Config loading: PyTAAA layout, defaults, one clear message per problem, exit 2."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytaaa.config import ConfigError, EmailConfig, Valuation, load_config

BASE = {
    "symbols_file": "data/naz100_symbols.txt",
    "performance_store": "perf",
    "webpage": "web",
    "stockList": "Naz100",
    "uptrendSignalMethod": "HMAs",
    "numberStocksTraded": 7,
    "monthsToHold": 1,
    "LongPeriod": 104,
    "stddevThreshold": 5.0,
    "MA1": 151,
    "MA2": 14,
    "MA3": 22,
    "sma2factor": 1.0,
}


def write(tmp_path: Path, data, name: str = "cfg.json") -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return p


def problems(tmp_path: Path, data) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, data))
    return exc.value.problems


def test_valid_config_defaults_and_relative_paths(tmp_path):
    cfg = load_config(write(tmp_path, {"Valuation": BASE}))
    v = cfg.valuation
    assert v.async_plot_generation is False
    assert v.async_montecarlo_backtest is True
    assert v.plot_generation_workers == 2
    assert (v.minperiod, v.maxperiod, v.incperiod) == (4, 12, 3)
    assert (v.numdaysinfit, v.numdaysinfit2, v.offset) == (50, 15, 7)
    assert v.trade_cost == 7.95
    assert v.channel_periods == [4, 7, 10]
    assert cfg.webpage == (tmp_path / "web").resolve()
    assert cfg.symbols_file == (tmp_path / "data/naz100_symbols.txt").resolve()
    assert cfg.email.smtp_port == 587 and cfg.email.starttls is True


def test_unknown_keys_warn_once_and_legacy_keys_are_silent(tmp_path, caplog):
    data = {"Valuation": dict(BASE, rankThresholdPct=0.02, fancyNewKey=1, otherKey="x"),
            "FTP": {"host": "x"}, "stock_server": {}}
    with caplog.at_level("WARNING"):
        load_config(write(tmp_path, data))
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "fancyNewKey" in warnings[0] and "otherKey" in warnings[0]
    assert "rankThresholdPct" not in warnings[0]


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path / "nope.json")
    assert "nope.json" in str(exc.value) and "not found" in str(exc.value)


def test_malformed_json_names_line(tmp_path):
    (msg,) = problems(tmp_path, '{"Valuation": {"stockList": "Naz100",}}')
    assert "malformed JSON at line 1" in msg


def test_missing_section(tmp_path):
    assert problems(tmp_path, {"Email": {}}) == ["Valuation: missing required section"]


def test_missing_key(tmp_path):
    data = {"Valuation": {k: v for k, v in BASE.items() if k != "LongPeriod"}}
    assert problems(tmp_path, data) == ["Valuation.LongPeriod: missing required key"]


def test_wrong_type_names_key_value_and_expectation(tmp_path):
    (msg,) = problems(tmp_path, {"Valuation": dict(BASE, numberStocksTraded="seven")})
    assert msg.startswith('Valuation.numberStocksTraded: "seven" is invalid')
    assert "integer" in msg


def test_string_false_is_not_a_boolean(tmp_path):
    (msg,) = problems(tmp_path, {"Valuation": dict(BASE, async_plot_generation="false")})
    assert msg.startswith('Valuation.async_plot_generation: "false" is invalid')
    assert "boolean" in msg


def test_unknown_method(tmp_path):
    (msg,) = problems(tmp_path, {"Valuation": dict(BASE, uptrendSignalMethod="EMAs")})
    assert msg.startswith('Valuation.uptrendSignalMethod: "EMAs" is invalid')
    assert "percentileChannels" in msg


def test_method_specific_keys_required(tmp_path):
    (msg,) = problems(tmp_path, {"Valuation": dict(BASE, uptrendSignalMethod="percentileChannels")})
    assert "lowPct" in msg and "hiPct" in msg


def test_several_problems_reported_together(tmp_path):
    data = {"Valuation": dict(BASE, MA1="x", monthsToHold=0, plot_generation_hours=[25])}
    found = problems(tmp_path, data)
    assert len(found) == 3
    assert {m.split(":")[0] for m in found} == {
        "Valuation.MA1", "Valuation.monthsToHold", "Valuation.plot_generation_hours"}


def test_password_never_in_messages(tmp_path):
    found = problems(tmp_path, {"Valuation": BASE, "Email": {"PW": 12345678}})
    assert any(m.startswith("Email.PW") for m in found)
    assert all("12345678" not in m for m in found)


def test_env_password_wins(monkeypatch):
    e = EmailConfig(From="a@b.c", To="x@y.z; u@v.w", PW="file")
    assert e.password() == "file"
    monkeypatch.setenv("PYTAAA_SMTP_PASSWORD", "env")
    assert e.password() == "env"
    assert e.recipients == ["x@y.z", "u@v.w"]
    assert "file" not in repr(e)


def _cli(args, cwd):
    return subprocess.run([sys.executable, "-m", "pytaaa", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "content, expect",
    [
        (None, "config file not found"),
        ("{not json", "malformed JSON"),
        ({"Setup": {}}, "Valuation: missing required section"),
        ({"Valuation": {k: v for k, v in BASE.items() if k != "webpage"}},
         "Valuation.webpage: missing required key"),
        ({"Valuation": dict(BASE, LongPeriod=10.5)}, "Valuation.LongPeriod: 10.5 is invalid"),
        ({"Valuation": dict(BASE, async_montecarlo_backtest="false")},
         'Valuation.async_montecarlo_backtest: "false" is invalid'),
        ({"Valuation": dict(BASE, uptrendSignalMethod="magic")},
         'Valuation.uptrendSignalMethod: "magic" is invalid'),
    ],
    ids=["missing-file", "malformed", "missing-section", "missing-key", "wrong-type",
         "string-false", "unknown-method"],
)
def test_cli_bad_config_exit_2_and_nothing_written(tmp_path, content, expect):
    cfg = tmp_path / "cfg.json"
    if content is not None:
        cfg.write_text(content if isinstance(content, str) else json.dumps(content))
    before = sorted(p.name for p in tmp_path.rglob("*"))
    res = _cli(["run", "--json", str(cfg)], tmp_path)
    assert res.returncode == 2, res.stderr
    assert expect in res.stderr
    assert "Traceback" not in res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def _doc_keys(section: str) -> dict[str, tuple[str, str]]:
    text = (Path(__file__).parents[1] / "docs" / "configuration.md").read_text()
    part = text.split(f"## `{section}`", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([A-Za-z0-9_]+)` \| ([^|]+) \| ([^|]+) \|", part, flags=re.M)
    return {k: (t.strip(), d.strip()) for k, t, d in rows}


@pytest.mark.parametrize("section, model", [("Valuation", Valuation), ("Email", EmailConfig)])
def test_configuration_doc_matches_schema(section, model):
    documented = _doc_keys(section)
    assert set(documented) == set(model.model_fields), (
        set(documented) ^ set(model.model_fields))
    for name, field in model.model_fields.items():
        _, default = documented[name]
        if field.is_required():
            assert default.startswith("required"), name
        elif field.default_factory is not None:
            assert default == str(field.default_factory()), name
        elif field.default is None:
            assert default.startswith("null") or default.startswith("required") or \
                default.startswith("1 Jan"), name
        else:
            value = field.default
            shown = {True: "true", False: "false"}.get(value, str(value)) \
                if isinstance(value, bool) else str(value)
            assert default == shown, (name, default, shown)


def test_with_valuation_on_loaded_config(tmp_path):
    cfg = load_config(write(tmp_path, {"Valuation": BASE}))
    cfg2 = cfg.with_valuation(numberStocksTraded=3)
    assert cfg2.valuation.numberStocksTraded == 3
    assert cfg2.webpage == cfg.webpage
