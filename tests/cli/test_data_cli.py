"""`pytaaa data check [--fix]` on the demo-like synthetic store (bad prints and missing
days by design): findings listed, exit codes 0/1/2, --fix repairs a copy after a backup."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pytaaa.cli.app import main


def test_check_lists_the_synthetic_bad_prints_and_fix_repairs_them(workspace_copy: Path):
    runner = CliRunner()
    res = runner.invoke(main, ["data", "check", "--json", str(workspace_copy)])
    assert res.exit_code == 1, res.output
    assert " bad print " in res.output and " gap " in res.output
    assert res.output.strip().splitlines()[-1].startswith(tuple("0123456789"))
    fixed = runner.invoke(main, ["data", "check", "--json", str(workspace_copy), "--fix"])
    assert fixed.exit_code == 1, fixed.output
    assert "backup of the store:" in fixed.output and "fixed: " in fixed.output
    backups = list((workspace_copy.parent / "data").glob("*.hdf5.bak-*"))
    assert len(backups) == 1
    again = runner.invoke(main, ["data", "check", "--json", str(workspace_copy), "--as-json"])
    data = json.loads(again.output)
    kinds = {f["kind"] for f in data["findings"]}
    assert "bad print" not in kinds and "gap" in kinds        # gaps cannot be repaired
    assert all(not f["fixable"] for f in data["findings"])


def test_check_exit_codes_clean_and_unreadable(tmp_path: Path):
    import numpy as np

    from pytaaa.data.store import store_location, write_store
    from pytaaa.model import Quotes

    sym = tmp_path / "naz100_symbols.txt"
    sym.write_text("AAA\n")
    d = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-03-01"))
    d = d[np.is_busday(d)]
    path, key = store_location(sym)
    write_store(path, key, Quotes(d, ("AAA",), np.linspace(10, 12, d.size)[None, :]))
    runner = CliRunner()
    clean = runner.invoke(main, ["data", "check", "--store", str(path), "--stale-days", "5"])
    assert clean.exit_code in (0, 1), clean.output       # 1 only for a stale store
    assert "stale store" in clean.output or clean.output.startswith("clean:")
    path.write_bytes(b"not hdf5")
    bad = runner.invoke(main, ["data", "check", "--store", str(path)])
    assert bad.exit_code == 2 and "error:" in bad.output and str(path) in bad.output
