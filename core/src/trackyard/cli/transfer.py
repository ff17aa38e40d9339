"""``trackyard export`` and ``trackyard import``: move runs, their files and their cache between
workspaces in one verified archive (``trackyard.export_runs`` / ``trackyard.import_runs``)."""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from trackyard.cli._app import app
from trackyard.cli.run import WORKSPACE_HELP


def _jsonable(report: Any) -> str:
    return json.dumps(asdict(report), indent=2, default=str)


@app.command("export")
def export(
    domain: str | None = typer.Argument(None, help="Export only this domain's runs."),
    output: Path = typer.Option(
        ..., "--output", "-o", help="The bundle to write: .tar, .tar.gz (.tgz) or .tar.zst."
    ),
    workspace: Annotated[
        Path | None, typer.Option("--workspace", "-w", help=WORKSPACE_HELP)
    ] = None,
    run: list[str] | None = typer.Option(None, "--run", help="Export this run (repeatable)."),
    since: str | None = typer.Option(
        None, "--since", help="Only runs created at or after this date (2026-12-01[T09:30])."
    ),
    no_inputs: bool = typer.Option(False, "--no-inputs", help="Leave input files out."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Write runs of the workspace (all finished runs, those of DOMAIN, --run IDs, --since DATE)
    with their outputs, inputs, kept code and plugin lock to one archive, with the sha256 of
    every member. A cache hit brings the run it reused; a run whose outputs are missing or
    changed is left out (and listed)."""
    from trackyard.bundles import export_runs

    report = export_runs(
        output, domain, workspace=workspace, runs=run, since=since, inputs=not no_inputs
    )
    typer.echo(_jsonable(report) if as_json else str(report))


@app.command("import")
def import_(
    bundle: Path = typer.Argument(..., help="A bundle written by `trackyard export`."),
    workspace: Annotated[
        Path | None, typer.Option("--workspace", "-w", help=WORKSPACE_HELP)
    ] = None,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Verify every member of BUNDLE against its manifest, then add its runs to the workspace
    in one transaction: outputs under runs/, inputs under inputs/, kept code under sources/.
    The imported runs serve cache hits here. A damaged or truncated bundle is refused (the
    first bad member named) and the workspace is left unchanged; runs already here are left
    alone, so importing twice changes nothing."""
    from trackyard.bundles import import_runs
    from trackyard.errors import BundlePluginSetWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BundlePluginSetWarning)  # the report says it once
        report = import_runs(bundle, workspace=workspace)
    typer.echo(_jsonable(report) if as_json else str(report))
