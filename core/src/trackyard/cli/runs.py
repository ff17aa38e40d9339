"""``trackyard runs DOMAIN``: recorded runs of a domain, or the best ones by a metric."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from trackyard.cli._app import app
from trackyard.cli.run import WORKSPACE_HELP

if TYPE_CHECKING:
    from trackyard._store import Store


@dataclass(frozen=True)
class RecordedRun:
    """One recorded run of a domain, as ``trackyard runs`` lists it; a cache hit names the run
    that executed (``cache_source``)."""

    run_id: str
    name: str | None
    status: str
    created_at: str
    cache_hit: bool
    metrics: dict[str, Any]
    cache_source: str | None = None


def checked_store_location(domain: str, workspace: Path | None) -> Path:
    """The store ``runs``/``why``/``diff`` read, refusing what ``trackyard run`` refuses: bad
    settings in any layer, a workspace that is a file, a DB path that is a folder, a project
    ``trusted_paths`` or a bad policy flag."""
    import os

    from trackyard._store import check_locations
    from trackyard.policy import Policy
    from trackyard.settings import project_config, store_settings

    project = project_config()
    settings = store_settings(domain, workspace, project, os.environ)
    check_locations(settings)
    Policy.resolve(project, os.environ)
    return settings.db_path


def recorded_runs(store: Store, domain: str, limit: int | None) -> list[RecordedRun]:
    """The runs of ``domain`` recorded in ``store``, oldest first (the last ``limit``); none
    when the store does not exist yet."""
    from trackyard._queries import domain_runs

    if not store.db_path.is_file():
        return []
    rows = domain_runs(store, domain)
    out = [
        RecordedRun(
            str(r.id),
            r.name,
            str(r.status),
            str(r.created_at),
            r.cache_source is not None,
            json.loads(r.metrics or "{}"),
            None if r.cache_source is None else str(r.cache_source),
        )
        for r in rows
    ]
    return out[-limit:] if limit else out


@app.command("runs")
def runs(
    domain: str = typer.Argument(..., help="The domain whose runs to list."),
    top: str | None = typer.Option(None, "--top", help="Rank executed runs by this metric."),
    k: int | None = typer.Option(None, "--k", help="How many runs (default: 5 with --top)."),
    order: str = typer.Option("asc", "--order", help="asc (smallest first) or desc."),
    workspace: Annotated[
        Path | None, typer.Option("--workspace", "-w", help=WORKSPACE_HELP)
    ] = None,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the runs recorded for DOMAIN, or with --top METRIC the best runs by that metric.

    Ranking puts runs without the metric (or with NaN) last in both orders; cache hits are not
    ranked twice. A metric no run recorded, or a domain with no runs that no installed plugin
    provides, exits with status 1 naming the recorded ones. Reads only the store: works
    without the domain's plugin installed.

    Counting: a cache hit of run() is a row of its own (cache_hit, naming the run it
    reused); an item of run_many (sweep, calibrate) found by the batch's cache pre-check adds
    no row: the batch's result counts it as cached.
    """
    from trackyard.cli._render import print_result

    if k is not None and k < 1:
        from trackyard.errors import QueryValidationError

        raise QueryValidationError(f"--k must be a positive integer, got {k}")
    from trackyard._layout import RUNS_DIR
    from trackyard._store import Store, lock_timeout

    # Only the store is read (DuckDB): neither consist nor the domain's plugin is needed, so
    # runs stay listable after the plugin that made them is uninstalled.
    db_path = checked_store_location(domain, workspace)
    store = Store(db_path, db_path.parent / RUNS_DIR, lock_timeout())
    result: list[Any]
    if top is not None:
        from trackyard._queries import ranked_runs

        if not store.db_path.is_file():
            from trackyard._validate import check_query

            check_query(top, 5 if k is None else k, order)
            result = []
        else:
            result = list(ranked_runs(store, domain, top, 5 if k is None else k, order))
    else:
        result = list(recorded_runs(store, domain, k))
    if not result:
        check_domain_known(store, domain)
    print_result(result, as_json=as_json)


def check_domain_known(store: Store, domain: str) -> None:
    """``QueryValidationError`` when ``store`` holds no run of ``domain`` and no installed
    plugin provides it (a typo), naming the domains with runs and the closest one."""

    from trackyard import available_domains
    from trackyard._discovery import suggest
    from trackyard._queries import domains_with_runs
    from trackyard.errors import QueryValidationError

    with_runs = domains_with_runs(store)
    if domain in with_runs or domain in {d.name for d in available_domains()}:
        return
    close = suggest(domain, with_runs)
    hint = f" Did you mean {close!r}?" if close else ""
    raise QueryValidationError(
        f"no run of domain {domain!r} is recorded in {store.db_path} and no installed plugin "
        f"provides it; domains with runs: {', '.join(with_runs) or 'none'}.{hint}"
    )
