"""``trackyard which NAME``: how a domain name resolves, from metadata only."""

from __future__ import annotations

import dataclasses
import json

import typer

from trackyard.cli._app import app


@app.command("which")
def which(
    name: str = typer.Argument(..., help="The domain name to resolve."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Explain which distribution provides a domain: every claimant, the winner and why.

    When several distributions claim the name, the output names the pin that chooses one:
    [tool.trackyard.providers] in pyproject.toml or TRACKYARD_PROVIDERS. Imports no plugin.
    """
    from trackyard.registry import default_registry

    explanation = default_registry().explain(name)
    if not explanation.claimants:
        # explain() describes an unknown name in its reason; the CLI turns it into an error.
        raise default_registry().unknown_domain(name)
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(explanation), indent=2))
        return
    typer.echo(str(explanation))
    if explanation.winner is None:
        raise typer.Exit(1)
