"""``trackyard demo``: a guided tour on the bundled models (implemented in ``trackyard.demo``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trackyard.cli import app


@app.command("demo")
def demo(
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace", "-w", help="Where the demo keeps its runs (default: a temp folder)."
        ),
    ] = None,
) -> None:
    """Run the demo: evaluate and rank a few configurations of the bundled models."""
    from rich.console import Console

    from trackyard.demo import run_demo  # type: ignore[import-not-found,unused-ignore]

    code = run_demo(workspace=workspace, console=Console())
    if code:
        raise typer.Exit(int(code))
