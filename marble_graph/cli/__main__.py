"""``python -m marble_graph.cli`` runs the ``marble`` command."""

from marble_graph.cli.app import main

main()
