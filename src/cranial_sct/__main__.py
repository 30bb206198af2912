"""``python -m cranial_sct`` runs the CLI."""

from cranial_sct.cli import main

main()
