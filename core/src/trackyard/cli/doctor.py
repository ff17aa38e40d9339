"""``trackyard doctor [NAME]``: load every plugin, validate it and run the conformance checks."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from trackyard.cli._app import app

if TYPE_CHECKING:
    from trackyard.cli._doctor import DomainReport


@app.command("doctor")
def doctor(
    name: str | None = typer.Argument(None, help="Check only this domain."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    workspace: Path | None = typer.Option(
        None, "--workspace", help="Workspace to audit (default: the configured one)."
    ),
    fix: bool = typer.Option(
        False, "--fix", help="Repair the workspace's store from its JSON run snapshots."
    ),
    store_only: bool = typer.Option(
        False,
        "--store-only",
        help="Audit (with --fix repair) the workspace's store only: no domain checks.",
    ),
) -> None:
    """Load each domain plugin (or NAME), validate its contract and run the conformance checks
    (build, wiring, light plugin module, outputs, cache hit, edited input, metrics, report
    sections, model error) in a temporary workspace: the checks DomainConformance runs.

    Exits with status 1 when any check fails. Verbs run with the tracker class's 'examples'
    when it declares them, else with small invented arguments. When the workspace holds a
    store, doctor also audits it against the JSON run snapshots (--fix repairs it: stale
    'running' runs marked interrupted, missing rows and statuses restored) and compares the
    plugin set its runs recorded with the installed one. --store-only skips the domain checks
    (about 10 s per domain): the quick way to audit or repair a store.
    """
    reports = _reports(name, workspace, fix, store_only)
    ok = all(r.ok for r in reports)
    if as_json:
        typer.echo(json.dumps([{**asdict(r), "ok": r.ok} for r in reports], indent=2))
    else:
        from rich.text import Text

        from trackyard.cli._render import console as stdout_console
        from trackyard.cli._render import plain, plain_table

        console = stdout_console()
        for report in reports:
            table = plain_table(
                "check", "result", "detail", title=f"{report.domain} ({report.distribution})"
            )
            for check in report.checks:
                style = {"ok": "green", "FAIL": "bold red", "skip": "yellow", "warn": "yellow"}[
                    check.status
                ]
                table.add_row(plain(check.name), Text(check.status, style), plain(check.detail))
            console.print(table)
        failed = [r.domain for r in reports if not r.ok]
        if failed:
            console.print(Text(f"doctor: problems in {', '.join(failed)}", "bold red"))
        elif reports:
            console.print(f"doctor: {len(reports)} report(s) OK")
        else:
            console.print(_nothing_checked())
    if not ok:
        raise typer.Exit(1)


def _reports(
    name: str | None, workspace: Path | None, fix: bool, store_only: bool
) -> list[DomainReport]:
    """The domain reports (none with ``store_only``), then the workspace's store report."""
    from trackyard.cli._doctor import check_workspace, run_doctor

    if store_only and name is not None:
        raise typer.BadParameter(
            f"it checks no domain: drop {name!r}, or drop --store-only to check {name!r}",
            param_hint="--store-only",
        )
    store = check_workspace(workspace.absolute() if workspace else None, fix)
    if store_only and store is None:
        where = workspace if workspace is not None else "the configured workspace"
        raise typer.BadParameter(f"{where} holds no store to audit", param_hint="--store-only")
    return ([] if store_only else run_doctor(name)) + ([store] if store is not None else [])


def _nothing_checked() -> str:
    """Why doctor checked nothing: no domain installed, or every one refused by the policy."""
    from trackyard import available_domains

    refused = [d for d in available_domains() if d.status not in ("available", "loaded")]
    if not refused:
        return "doctor: no domains installed"
    listed = ", ".join(f"{d.name} ({d.status})" for d in refused)
    return (
        f"doctor: no domains checked: {len(refused)} installed but not usable: {listed}; "
        "`trackyard domains` says why (e.g. TRACKYARD_DISABLE_PLUGIN_AUTOLOAD=1: name the ones "
        "to load in TRACKYARD_PLUGINS)"
    )
