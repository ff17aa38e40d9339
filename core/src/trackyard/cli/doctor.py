"""``trackyard doctor [NAME]``: load every plugin, validate it and run the conformance checks."""

from __future__ import annotations

import json
from dataclasses import asdict

import typer

from trackyard.cli import app


@app.command("doctor")
def doctor(
    name: str | None = typer.Argument(None, help="Check only this domain."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Load each domain plugin (or NAME), validate its contract and run the conformance checks
    (build, wiring, outputs, cache hit, metrics, model error) in a temporary workspace.

    Exits with status 1 when any check fails. Verbs run with the tracker class's 'examples'
    when it declares them, else with small invented arguments.
    """
    from trackyard.cli._doctor import run_doctor

    reports = run_doctor(name)
    ok = all(r.ok for r in reports)
    if as_json:
        typer.echo(json.dumps([{**asdict(r), "ok": r.ok} for r in reports], indent=2))
    else:
        from rich.console import Console
        from rich.table import Table

        console = Console()
        for report in reports:
            table = Table(
                "check", "result", "detail", title=f"{report.domain} ({report.distribution})"
            )
            for check in report.checks:
                style = {"ok": "green", "FAIL": "bold red", "skip": "yellow"}[check.status]
                table.add_row(check.name, f"[{style}]{check.status}[/{style}]", check.detail)
            console.print(table)
        failed = [r.domain for r in reports if not r.ok]
        if failed:
            console.print(f"[bold red]doctor: problems in {', '.join(failed)}[/bold red]")
        elif reports:
            console.print(f"doctor: {len(reports)} domain(s) OK")
        else:
            console.print("doctor: no domains installed")
    if not ok:
        raise typer.Exit(1)
