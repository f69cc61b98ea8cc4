"""Packaging claims: one version, ranges in pyproject.toml pinned by constraints.txt
(which the Makefile uses), the oldest Python claimed is the oldest one pinned, every
runtime dependency is imported somewhere, LICENSE and py.typed ship."""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import re
import sys
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.version import Version

import pytaaa

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
# the module each runtime dependency is imported as
IMPORT_NAMES = {"jinja2": "jinja2", "exchange-calendars": "exchange_calendars"}


def _constraints() -> list[Requirement]:
    lines = (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    return [Requirement(ln) for ln in lines if ln.strip() and not ln.startswith("#")]


def _pythons() -> list[str]:
    text = (ROOT / "constraints.txt").read_text(encoding="utf-8")
    m = re.search(r"^# Pythons: ([0-9., ]+)", text, re.M)
    assert m, "constraints.txt names the Pythons it was generated with"
    return [v.strip() for v in m.group(1).split(",")]


def _requirements() -> list[Requirement]:
    return [Requirement(r) for r in PROJECT["dependencies"] + PROJECT["optional-dependencies"]["test"]]


def test_one_version_string() -> None:
    assert "version" in PROJECT["dynamic"] and "version" not in PROJECT
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "pytaaa.__version__"}
    assert importlib.metadata.version("pytaaa") == pytaaa.__version__


@pytest.mark.parametrize("python", _pythons())
def test_constraints_pin_every_requirement_within_its_range(python: str) -> None:
    env = {"python_version": python, "python_full_version": f"{python}.0"}
    pins = {}
    for c in _constraints():
        if c.marker is None or c.marker.evaluate(env):
            (spec,) = c.specifier
            assert spec.operator == "==", c
            assert c.name not in pins, f"{c.name} pinned twice for Python {python}"
            pins[c.name] = Version(spec.version)
    for req in _requirements():
        name = req.name.lower()
        assert name in pins, f"{name} has no pin for Python {python} in constraints.txt"
        assert req.specifier.contains(pins[name]), f"{name}=={pins[name]} outside {req.specifier}"


def test_requires_python_is_the_oldest_python_pinned() -> None:
    oldest = _pythons()[0]
    assert PROJECT["requires-python"] == f">={oldest}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"Python ≥ {oldest}" in readme
    assert f"Programming Language :: Python :: {oldest}" in PROJECT["classifiers"]
    assert Marker(f'python_version >= "{oldest}"').evaluate()  # this suite runs on one of them


def test_makefile_installs_with_the_constraints() -> None:
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^\$\(STAMP\): pyproject\.toml constraints\.txt$", make, re.M)
    assert "pip install --quiet -c constraints.txt -e '.[test]'" in make


def test_every_runtime_dependency_is_imported() -> None:
    sources = "\n".join(p.read_text(encoding="utf-8")
                        for p in (ROOT / "src" / "pytaaa").rglob("*.py"))
    for dep in PROJECT["dependencies"]:
        name = Requirement(dep).name.lower()
        module = IMPORT_NAMES.get(name, name)
        assert re.search(rf"^\s*(import|from) {module}\b", sources, re.M), f"{name} is not imported"
    # an optional extra only while a module imports it
    for extra, module in (("download", "yfinance"), ("dask", "dask")):
        if extra in PROJECT["optional-dependencies"]:
            assert re.search(rf"^\s*(import|from) {module}\b", sources, re.M), extra


def test_license_and_typing_marker_ship() -> None:
    assert PROJECT["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert importlib.resources.files("pytaaa").joinpath("py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["pytaaa"]
