"""Command-line interface (placeholder replaced as commands land)."""

import typer

app = typer.Typer(help="segmentum: to whom do we sell, and what?", no_args_is_help=True)


@app.command()
def version() -> None:
    """Print the installed version."""
    from segmentum import __version__

    typer.echo(__version__)
