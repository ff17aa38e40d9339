"""``trackyard new-plugin NAME``: scaffold an installable domain plugin package."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trackyard.cli._app import app


@app.command("new-plugin")
def new_plugin(
    name: str = typer.Argument(..., help="The domain name, e.g. traffic or land_use."),
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="The folder to create (default: ./DIST)."),
    ] = None,
    dist: Annotated[
        str | None,
        typer.Option("--dist", help="The distribution name (default: trackyard-NAME)."),
    ] = None,
    package: Annotated[
        str | None,
        typer.Option("--package", help="The import package name (default: trackyard_NAME)."),
    ] = None,
) -> None:
    """Write a complete plugin package for domain NAME: pyproject.toml with the
    trackyard.domains entry point, plugin module with its hooks, a tracker class with one verb,
    a tiny model, a README and conformance tests. Then:

      pip install -e "./trackyard-NAME[test]" && pytest ./trackyard-NAME

    Names of installed or first-party domains, distributions and packages are refused (installing
    the package would replace them); choose others with --dist and --package.
    """
    from trackyard.cli._scaffold import write_plugin

    root, written = write_plugin(name, directory, dist, package)
    typer.echo(f"Created {root}:")
    for path in written:
        typer.echo(f"  {path.relative_to(root)}")
    typer.echo(
        f'Next: python -m pip install -e "{root}[test]" && python -m pytest {root}'
        f"\n      trackyard domains   # lists {name!r}"
    )
