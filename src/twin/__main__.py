"""``python -m twin`` runs the command line."""

from twin.cli.main import main

main()
