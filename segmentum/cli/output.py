"""Where the CLI writes: results to stdout, messages to stderr, errors with their exit code."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from segmentum.data.errors import SegmentumError

__all__ = ["console", "fail", "out"]

console = Console(stderr=True)
out = Console()


def fail(exc: SegmentumError) -> None:
    """Print a user's error and exit with its code."""
    console.print(f"[bold red]Error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(exc.exit_code)
