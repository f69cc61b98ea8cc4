"""The package layout: every module imports, no import cycle, layers import downward only."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import pytaaa

SRC = Path(pytaaa.__file__).parent

# Lowest first: a module may import from its own layer or a lower one.
LAYERS = [
    ("", "_io", "_blocks", "model", "config"),
    ("data",),
    ("engine",),
    ("jobs",),
    ("charts",),
    ("montecarlo",),
    ("account",),
    ("models",),
    ("site",),
    ("pipeline",),
    ("cli", "__main__"),
]
# The seeds' entry points start a job that lives with its feature; they import
# it only when run as ``python -m`` (inside ``if __name__ == "__main__"``).
ENTRY_SHIMS = {"pytaaa.jobs.charts", "pytaaa.jobs.montecarlo"}
MAX_LINES = 520


def _modules() -> dict[str, Path]:
    mods = {}
    for path in SRC.rglob("*.py"):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        mods[".".join(parts)] = path
    return mods


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    """pytaaa modules imported by ``path`` (module-level statements, or all)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pytaaa"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("pytaaa"))
    return found


def _layer(module: str) -> int:
    part = module.split(".")[1] if "." in module else ""
    for i, names in enumerate(LAYERS):
        if part in names:
            return i
    raise AssertionError(f"{module} is in no layer of tests/test_layout.py")


def test_every_module_imports() -> None:
    names = [m.name for m in pkgutil.walk_packages([str(SRC)], "pytaaa.")]
    assert len(names) >= 40
    for name in names:
        if name == "pytaaa.__main__":
            continue
        importlib.import_module(name)


def test_no_import_cycle_between_modules() -> None:
    mods = _modules()
    graph = {m: {i for i in _imports(p, top_level_only=True) if i in mods and i != m}
             for m, p in mods.items()}
    state: dict[str, int] = {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycle = stack[stack.index(n):] + [n] if n in stack else [m, n]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n, [*stack, n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_layers_import_downward_only() -> None:
    mods = _modules()
    wrong = []
    for m, path in mods.items():
        if m in ENTRY_SHIMS or m == "pytaaa":
            continue
        for imp in _imports(path, top_level_only=False):
            target = imp if imp in mods else imp.rsplit(".", 1)[0]
            if target in mods and _layer(target) > _layer(m):
                wrong.append(f"{m} imports {imp}")
    assert not wrong, "\n".join(sorted(wrong))


def test_jobs_package_is_the_generic_runtime_only() -> None:
    for m, path in _modules().items():
        if m.startswith("pytaaa.jobs") and m not in ENTRY_SHIMS:
            assert all(_layer(i) <= _layer("pytaaa.jobs") for i in
                       _imports(path, top_level_only=False) if i in _modules()), m


def test_no_module_is_too_long() -> None:
    long = {m: n for m, p in _modules().items()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, long


def test_seed_entry_points_and_public_api() -> None:
    code = ("import pytaaa, pytaaa.jobs.charts, pytaaa.jobs.montecarlo; "
            "print(len([getattr(pytaaa, n) for n in pytaaa.__all__]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) == len(pytaaa.__all__)
    for module in ("pytaaa.jobs.charts", "pytaaa.jobs.montecarlo"):
        res = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True,
                             text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        assert f"python -m {module}" in res.stdout
