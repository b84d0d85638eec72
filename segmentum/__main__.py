"""`python -m segmentum` runs the CLI."""

from segmentum.cli.main import main

main()
