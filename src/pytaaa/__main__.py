"""``python -m pytaaa`` runs the command line."""

from pytaaa.cli import main

main()
