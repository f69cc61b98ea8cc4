"""The ``pytaaa`` command line (click): one module per command group.

:mod:`~pytaaa.cli.app` holds the group with ``run`` and ``demo``;
:mod:`~pytaaa.cli.data`, :mod:`~pytaaa.cli.jobs` (``charts``, ``jobs``),
:mod:`~pytaaa.cli.montecarlo` and :mod:`~pytaaa.cli.serve` the other commands.
"""

from pytaaa.cli.app import main

__all__ = ["main"]
