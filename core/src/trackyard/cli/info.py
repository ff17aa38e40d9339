"""``trackyard info NAME``: a domain's verbs, merged default wiring and settings."""

from __future__ import annotations

import json
from typing import Any

import typer

from trackyard.cli._app import app


def describe_domain(name: str) -> dict[str, Any]:
    """Everything ``info`` shows, as plain data.

    Only the domain's plugin is imported: no tracker, consist Tracker or store is built (so
    ``info`` writes nothing); settings and their sources are resolved as ``get_tracker(name)``
    would resolve them here.
    """
    from trackyard import explain
    from trackyard.cli._render import to_jsonable
    from trackyard.cli._verbs import declared_verbs
    from trackyard.registry import default_registry

    explanation = explain(name)
    cls, settings, wiring_obj, registered = default_registry().describe(name)
    verbs = declared_verbs(cls, registered)
    wiring = wiring_obj.as_dict()
    winner = explanation.winner
    return {
        "domain": name,
        "distribution": winner.distribution if winner else None,
        "version": winner.version if winner else None,
        "entry_point": winner.entry_point if winner else None,
        "tracker_class": f"{cls.__module__}.{cls.__qualname__}",
        "doc": (cls.__doc__ or "").strip(),
        "verbs": [
            {"name": v.name, "signature": v.describe(), "doc": v.doc, "source": v.source}
            for v in verbs.values()
        ],
        "wiring": to_jsonable(wiring),
        "settings": {
            "workspace": str(settings.workspace),
            "db_path": str(settings.db_path),
            "run_dir": str(settings.run_dir),
            "cache_epoch": settings.cache_epoch,
            "options": to_jsonable(settings.options),
        },
        "sources": dict(settings.sources),
    }


def _settings_rows(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(setting, value, where it came from) for every setting and domain option."""
    rows = [
        (key, str(data["settings"][key]), data["sources"].get(key, ""))
        for key in ("workspace", "db_path", "run_dir", "cache_epoch")
    ]
    for key, value in (data["settings"]["options"] or {}).items():
        rows.append((key, json.dumps(value), data["sources"].get(key, "default")))
    return rows


def _heading(data: dict[str, Any]) -> str:
    return (
        f"{data['domain']} from {data['distribution']} {data['version']} "
        f"({data['entry_point']}): {data['tracker_class']}"
    )


def plain_text(data: dict[str, Any]) -> str:
    """``info`` as plain lines, no wider than what they hold (for pipes, files, pagers): the
    verbs' signatures with their docstrings indented below, the wiring, the settings."""
    lines = [_heading(data)]
    if data["doc"]:
        lines += ["", data["doc"]]
    lines += ["", "verbs:"]
    for verb in data["verbs"]:
        lines.append(f"  {verb['signature']}")
        lines += [f"      {line}".rstrip() for line in (verb["doc"] or "").splitlines()]
    lines += ["", "default wiring (merged):"]
    lines += [f"  {key}: {json.dumps(value)}" for key, value in data["wiring"].items()]
    lines += ["", "settings:"]
    lines += [f"  {key}: {value}  ({source})" for key, value, source in _settings_rows(data)]
    return "\n".join(lines)


def _print_tables(data: dict[str, Any]) -> None:
    from rich.text import Text

    from trackyard.cli._render import console as stdout_console
    from trackyard.cli._render import plain, plain_table

    console = stdout_console()
    heading = _heading(data)
    console.print(Text.assemble((data["domain"], "bold"), heading[len(data["domain"]) :]))
    if data["doc"]:
        console.print(plain(data["doc"]))
    verbs = plain_table("verb", "signature", "doc", title="verbs")
    for verb in data["verbs"]:
        verbs.add_row(plain(verb["name"]), plain(verb["signature"]), plain(verb["doc"]))
    console.print(verbs)
    wiring = plain_table("field", "value", title="default wiring (merged)")
    for key, value in data["wiring"].items():
        wiring.add_row(plain(key), plain(json.dumps(value)))
    console.print(wiring)
    table = plain_table("setting", "value", "source", title="settings")
    for row in _settings_rows(data):
        table.add_row(*(plain(cell) for cell in row))
    console.print(table)


FORMATS = ("plain", "table", "json")


@app.command("info")
def info(
    name: str = typer.Argument(..., help="The domain to describe."),
    output: str | None = typer.Option(
        None,
        "--format",
        help="plain, table or json (default: table on a terminal, plain when piped).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (as --format json)."),
) -> None:
    """Show a domain's verbs (signatures and docstrings), merged default wiring, and settings
    with the source of each value. Imports the domain's plugin."""
    import sys

    if output is not None and output not in FORMATS:
        raise typer.BadParameter(
            f"{output!r} is not one of {', '.join(FORMATS)}", param_hint="--format"
        )
    chosen = "json" if as_json else output or ("table" if sys.stdout.isatty() else "plain")
    data = describe_domain(name)
    if chosen == "json":
        typer.echo(json.dumps(data, indent=2))
    elif chosen == "plain":
        typer.echo(plain_text(data))
    else:
        _print_tables(data)
