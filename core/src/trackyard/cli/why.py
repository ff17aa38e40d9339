"""``trackyard why`` and ``trackyard diff``: why a run executed or hit, whether a call would
hit, and what differs between two runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from trackyard.cli._app import app
from trackyard.cli.run import WORKSPACE_HELP, build_tracker, read_toml

if TYPE_CHECKING:
    from rich.console import Console

    from trackyard._store import Store
    from trackyard._why import Difference, WhyReport

_HASHED = {"input", "code", "undeclared_input"}  # components whose old/new are sha256 digests


def workspace_store(workspace: Path | None) -> tuple[Store, Path]:
    """The store ``--workspace`` (or settings resolution) names, and the workspace folder
    holding its kept sources. Only the store is read: no plugin, no consist."""
    from trackyard._layout import RUNS_DIR
    from trackyard._store import Store, lock_timeout
    from trackyard.cli.runs import checked_store_location

    db_path = checked_store_location("", workspace)
    folder = workspace.absolute() if workspace is not None else db_path.parent
    return Store(db_path, db_path.parent / RUNS_DIR, lock_timeout()), folder


def _shown(difference: Difference, value: Any) -> str:
    if value is None:
        return "" if difference.change != "changed" else "null"
    if difference.component in _HASHED and isinstance(value, str) and len(value) == 64:
        return value[:12]
    return (
        value if isinstance(value, str) and difference.component != "config" else json.dumps(value)
    )


def print_report(report: WhyReport, console: Console) -> None:
    """The report as text: its summary, a table of the differences, then each module diff."""
    from rich.text import Text

    from trackyard.cli._render import plain, plain_table

    console.print(plain(report.summary))
    if report.differences:
        table = plain_table("component", "key", "change", "old", "new", "path", title="differences")
        for d in report.differences:
            table.add_row(
                *(plain(x) for x in (d.component, d.key, d.change)),
                plain(_shown(d, d.old)),
                plain(_shown(d, d.new)),
                plain(d.path or ""),
            )
        console.print(table)
    for d in report.differences:
        if d.diff:
            console.print(Text(f"\n{d.component} {d.key}", "bold"))
            console.print(plain(d.diff.rstrip("\n")), highlight=False)


def _print(report: WhyReport, as_json: bool) -> None:
    if as_json:
        from trackyard.cli._render import to_jsonable

        typer.echo(json.dumps(to_jsonable(report), indent=2))
        return
    from trackyard.cli._render import console

    print_report(report, console())


def _would_hit(
    domain: str, verb: str, settings: list[str], config: Path | None, workspace: Path | None
) -> WhyReport:
    from trackyard.cli._verbs import build_arguments, get_verb

    file_values = read_toml(config) if config is not None else {}
    tracker = build_tracker(domain, workspace)
    chosen = get_verb(tracker, verb)
    kwargs = build_arguments(chosen, domain, file_values, settings)
    with tracker:
        report: WhyReport = tracker.would_hit(chosen.fn, **kwargs)
    return report


@app.command("why")
def why(
    target: str = typer.Argument(..., help="A run id, or a domain followed by VERB."),
    verb: str | None = typer.Argument(None, help="With a domain: the verb to ask about."),
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            "-s",
            metavar="KEY=VALUE",
            help="With DOMAIN VERB: a verb parameter, as for 'trackyard run' (repeatable).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            metavar="FILE.toml",
            help="With DOMAIN VERB: a TOML file of verb parameters (--set wins).",
        ),
    ] = None,
    workspace: Annotated[
        Path | None, typer.Option("--workspace", "-w", help=WORKSPACE_HELP)
    ] = None,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Explain why run RUN_ID executed instead of being served from cache (or which run a
    cache hit reused), or, with DOMAIN VERB and --set, whether that call would hit.

    A run is compared with the nearest earlier run of its model: config keys (old -> new),
    inputs by label and content hash, code modules (with a unified diff when both sources
    are kept), the model's distribution, the environment and undeclared inputs. Asking
    about a call runs nothing and writes nothing:

      trackyard why calibration evaluate --set run_name=base --set config.seed=3
    """
    if verb is not None:
        report = _would_hit(target, verb, settings or [], config, workspace)
    else:
        if settings or config is not None:
            from trackyard.errors import ConfigValidationError

            raise ConfigValidationError(
                "--set and --config describe a call: pass DOMAIN VERB before them, e.g. "
                f"trackyard why {target} VERB --set key=value"
            )
        from trackyard._why import explain_run

        store, folder = workspace_store(workspace)
        report = explain_run(store, folder, target)
    _print(report, as_json)


@app.command("diff")
def diff(
    run_a: str = typer.Argument(..., help="The run to compare from."),
    run_b: str = typer.Argument(..., help="The run to compare to."),
    workspace: Annotated[
        Path | None, typer.Option("--workspace", "-w", help=WORKSPACE_HELP)
    ] = None,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show what differs from run RUN_A to run RUN_B: config keys, inputs, code (with
    unified diffs), model distribution, environment and undeclared inputs.

    Reads only the store and the workspace: works without the domains' plugins installed.
    """
    from trackyard._why import diff_runs

    store, folder = workspace_store(workspace)
    _print(diff_runs(store, folder, run_a, run_b), as_json)
