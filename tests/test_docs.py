"""The docs keep their claims: every pytaaa command line of the README parses, every
option its command table names exists, the computed default of recent_plot_start_date
is as documented (tests/test_config.py checks the other defaults), and every file
docs/architecture.md names exists."""

from __future__ import annotations

import datetime as dt
import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pytaaa.cli.app import main
from pytaaa.config import Valuation

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CONFIG_DOC = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")


def _code_lines(text: str) -> list[str]:
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, re.S)
    return [ln for b in blocks for ln in b.splitlines()]


def _readme_command_lines() -> list[list[str]]:
    """Arguments of every ``pytaaa ...`` command line in the README's code blocks."""
    out = []
    for line in _code_lines(README):
        m = re.search(r"(?:^|\s)(?:\.venv/bin/)?pytaaa (.*)", line)
        if not m:
            continue
        args = shlex.split(m.group(1), comments=True)
        cut = next((i for i, a in enumerate(args) if a in (">>", ">", "2>&1", "|")), len(args))
        out.append(args[:cut])
    return out


def _resolve(args: list[str]) -> tuple[click.Command, list[str]]:
    """The (sub)command that ``args`` name and the path of names to it."""
    cmd: click.Command = main
    path: list[str] = []
    for a in args:
        if isinstance(cmd, click.Group) and a in cmd.commands:
            cmd = cmd.commands[a]
            path.append(a)
    return cmd, path


def test_readme_has_command_lines() -> None:
    assert len(_readme_command_lines()) >= 5


@pytest.mark.parametrize("args", _readme_command_lines(), ids=" ".join)
def test_every_readme_command_line_parses(args: list[str]) -> None:
    res = CliRunner().invoke(main, [*args, "--help"])
    assert res.exit_code == 0, res.output
    assert "Usage: " in res.output


def _table_rows() -> list[tuple[str, list[str]]]:
    """(subcommand path, option names) of every row of the README's command table."""
    rows = []
    for cell in re.findall(r"^\| (`pytaaa .*?) \| .* \|$", README, re.M):
        for usage in re.findall(r"`pytaaa ([^`]*)`", cell):
            words = usage.split()
            names = [w for w in words if re.fullmatch(r"[a-z][a-z-]*", w)]
            opts = re.findall(r"--[a-z][a-z-]*", usage)
            rows.append((" ".join(names), opts))
    return rows


def test_every_option_of_the_command_table_exists() -> None:
    rows = _table_rows()
    assert len(rows) >= 8
    for path, opts in rows:
        cmd, found = _resolve(path.split())
        assert " ".join(found) == path, f"pytaaa {path}: no such command"
        known = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
        if isinstance(cmd, click.Group):  # options given to the group of a subcommand
            known |= {o for p in main.commands[found[0]].params for o in p.opts}
        for opt in opts:
            assert opt in known, f"pytaaa {path}: no option {opt}"


def test_recent_plot_start_date_default_is_as_documented(synth_workspace: Path) -> None:
    """The documented default (1 Jan, four years before the year of the last data date)
    and its example are what the charts use; tests/test_config.py checks the others."""
    from pytaaa.charts.inputs import build_chart_inputs
    from pytaaa.config import load_config
    from pytaaa.engine.analysis import analyze

    assert "four years before the year of the last data date" in CONFIG_DOC
    assert "(data through 2026-11-20: 2022-01-01)" in CONFIG_DOC
    v = Valuation.model_construct(recent_plot_start_date=None)
    assert v.recent_start(dt.date(2026, 11, 20)) == dt.date(2022, 1, 1)
    cfg = load_config(synth_workspace).with_valuation(recent_plot_start_date=None)
    analysis = analyze(cfg)
    start = build_chart_inputs(cfg, analysis, {}).params.recent_start
    assert start == dt.date(analysis.last_date.year - 4, 1, 1)


def test_files_named_by_the_architecture_doc_exist() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    src = ROOT / "src" / "pytaaa"
    names = set(re.findall(r"`([\w/]+\.(?:py|js|css))`", text))
    assert len(names) > 20
    every = {p.name for p in src.rglob("*") if p.is_file()} | {
        str(p.relative_to(src)) for p in src.rglob("*") if p.is_file()}
    missing = sorted(n for n in names if n not in every and not (ROOT / n).is_file())
    assert missing == [], f"docs/architecture.md names files that do not exist: {missing}"
