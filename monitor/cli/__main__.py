"""``python -m monitor.cli`` runs the ``driftwatch`` command."""

from monitor.cli.main import main

main()
