"""``python -m pytaaa`` runs the command line."""

from .cli import main

main()
