"""``trackyard domains``: list installed domains from metadata only."""

from __future__ import annotations

import json

import typer

from trackyard.cli._app import app


@app.command("domains")
def domains(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List every installed domain with its distribution, version, entry point and status."""
    import dataclasses

    from trackyard import available_domains

    infos = available_domains()
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(i) for i in infos], indent=2))
        return
    from trackyard.cli._render import console, plain, plain_table

    table = plain_table("domain", "distribution", "version", "entry point", "status", "error")
    for info in infos:
        table.add_row(
            *(
                plain(v)
                for v in (
                    info.name,
                    info.distribution,
                    info.version,
                    info.entry_point,
                    info.status,
                    info.error or "",
                )
            )
        )
    console().print(table)
