"""The public API re-exported from ``pytaaa``: every name resolves, import stays cheap."""

from __future__ import annotations

import subprocess
import sys

import pytaaa


def test_every_public_name_resolves():
    for name in pytaaa.__all__:
        assert getattr(pytaaa, name) is not None, name
    assert pytaaa.analyze.__module__ == "pytaaa.engine.analysis"
    assert pytaaa.JobStatus.SUCCEEDED.value == "succeeded"


def test_import_is_cheap():
    code = "import sys, pytaaa; print(sorted(m for m in ('pandas', 'matplotlib', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
