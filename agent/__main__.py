"""``python -m agent`` runs the ``appeals`` command line."""

from agent.cli import main

main()
