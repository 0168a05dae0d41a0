"""`python -m wfe` runs the `wfe` command."""

from wfe.cli.main import main

main()
