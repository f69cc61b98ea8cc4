"""Write ``constraints.txt``: the exact versions a real install resolves, per Python.

Usage (from the repository root)::

    python tools/make_constraints.py python3.10 python3.11

For every interpreter given (oldest first) it creates a throw-away virtual
environment, installs ``-e '.[test]'`` from the version ranges of
``pyproject.toml`` and records ``pip freeze``.  Versions that agree on every
interpreter are pinned plainly; the others get one line per interpreter with a
``python_version`` marker (the newest interpreter's pins also cover later
Pythons).  ``make install`` then installs with ``-c constraints.txt``.
Exits 2 with one line when an interpreter is missing or an install fails.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "constraints.txt"


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _freeze(python: str, tmp: Path) -> tuple[str, dict[str, str]]:
    """Install the project with ``python`` in a new venv; return (X.Y, {name: version})."""
    venv = tmp / python.replace("/", "_")
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    subprocess.run([py, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([py, "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[test]"], check=True)
    ver = subprocess.run([py, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         check=True, capture_output=True, text=True).stdout.strip()
    out = subprocess.run([py, "-m", "pip", "freeze", "--exclude-editable"], check=True,
                         capture_output=True, text=True).stdout
    pins: dict[str, str] = {}
    for line in out.splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[_canonical(name)] = version.strip()
    return ver, pins


def _marker(i: int, versions: list[str]) -> str:
    lo = f'python_version >= "{versions[i]}"' if i > 0 else ""
    hi = f'python_version < "{versions[i + 1]}"' if i + 1 < len(versions) else ""
    return " and ".join(m for m in (lo, hi) if m)


def merge(freezes: list[tuple[str, dict[str, str]]]) -> list[str]:
    """Constraint lines for ``freezes`` (oldest Python first)."""
    versions = [v for v, _ in freezes]
    names = sorted({n for _, pins in freezes for n in pins})
    lines = []
    for name in names:
        seen = [pins.get(name) for _, pins in freezes]
        if all(s == seen[0] for s in seen):
            lines.append(f"{name}=={seen[0]}")
            continue
        for i, version in enumerate(seen):
            if version is not None:
                lines.append(f"{name}=={version} ; {_marker(i, versions)}")
    return lines


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python tools/make_constraints.py PYTHON [PYTHON ...] (oldest first)",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        freezes = []
        for python in argv:
            try:
                freezes.append(_freeze(python, Path(tmp)))
            except (OSError, subprocess.CalledProcessError) as exc:
                print(f"error: cannot install the project with {python}: {exc}", file=sys.stderr)
                return 2
    freezes.sort(key=lambda f: tuple(int(x) for x in f[0].split(".")))
    header = [
        "# Exact versions for `make install` (pip install -c constraints.txt -e '.[test]').",
        "# Generated from real installs by: python tools/make_constraints.py "
        + " ".join(argv),
        "# Pythons: " + ", ".join(v for v, _ in freezes)
        + " (the newest one's pins also serve later Pythons).",
    ]
    OUT.write_text("\n".join(header + merge(freezes)) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
