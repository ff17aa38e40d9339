"""``trackyard report [DOMAIN...]``: one self-contained HTML report of a workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trackyard.cli._app import app
from trackyard.cli.run import WORKSPACE_HELP


@app.command("report")
def report(
    domains: Annotated[
        list[str] | None,
        typer.Argument(help="Domains to show (default: every domain with runs in the store)."),
    ] = None,
    workspace: Annotated[
        Path | None, typer.Option("--workspace", "-w", help=WORKSPACE_HELP)
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")] = Path(
        "report.html"
    ),
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace --output even when it is not a report trackyard wrote."
        ),
    ] = False,
    open_it: Annotated[
        bool, typer.Option("--open", help="Open the report in the default browser.")
    ] = False,
) -> None:
    """Write an HTML report of the workspace: a summary, each domain's runs and the sections
    its plugins contribute (charts drawn by plotly, inlined: the file works offline)."""
    from trackyard.report import build_report

    result = build_report(domains or (), workspace=workspace, output=output, force=force)
    typer.echo(
        f"Report of {result.runs} runs ({', '.join(result.domains) or 'no domains'}) "
        f"written to {result.path}"
    )
    if open_it:
        import webbrowser

        webbrowser.open(result.path.as_uri())
