"""``trackyard demo``: a guided tour on the bundled models (implemented in ``trackyard.demo``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trackyard.cli._app import app


@app.command("demo")
def demo(
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            "-w",
            help="Where the demo keeps its runs (default: settings resolution, ./.trackyard).",
        ),
    ] = None,
) -> None:
    """Run the demo: calibrate the bundled mode-choice model on a small grid, rank the runs,
    show the cache at work (run it twice) and write the HTML report, printing its path."""
    from rich.console import Console

    from trackyard.demo import run_demo  # type: ignore[import-not-found,unused-ignore]

    code = run_demo(workspace=workspace, console=Console())
    if code:
        raise typer.Exit(int(code))
