"""``trackyard serve``: the live, read-only view of a workspace in the browser."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from trackyard.cli._app import app
from trackyard.cli.run import WORKSPACE_HELP


@app.command("serve")
def serve(
    workspace: Annotated[
        Path | None, typer.Option("--workspace", "-w", help=WORKSPACE_HELP)
    ] = None,
    port: Annotated[int, typer.Option("--port", help="The port to listen on.")] = 8765,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="The address to listen on. The default serves this machine only; any other "
            "address serves the network, without authentication.",
        ),
    ] = "127.0.0.1",
    open_it: Annotated[
        bool, typer.Option("--open", help="Open the overview in the default browser.")
    ] = False,
    refresh: Annotated[
        float,
        typer.Option("--refresh", min=0.05, help="Seconds between a domain page's checks."),
    ] = 1.0,
    budget: Annotated[
        float,
        typer.Option(
            "--budget",
            min=0.05,
            help="Seconds a request waits for a locked store before showing the last data read.",
        ),
    ] = 2.0,
) -> None:
    """Serve a live, read-only view of the workspace: the overview, a page per domain that
    updates as runs land, a page per run, a comparison of runs and a JSON API (/api/...).
    Needs the serve extra: pip install 'trackyard[serve]'."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        from trackyard.serve import INSTALL_HINT

        typer.echo(f"Error: {INSTALL_HINT} ({exc.name} is not installed)", err=True)
        raise typer.Exit(1) from None
    from trackyard._store import LOCK_TIMEOUT_ENV
    from trackyard.serve import is_local
    from trackyard.serve import serve as run_server

    # every read in this process, plugins' included, waits at most the budget for a lock
    os.environ.setdefault(LOCK_TIMEOUT_ENV, f"{budget:g}")
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    if not is_local(host):
        typer.echo(
            f"Warning: serving on {host}, reachable from the network, with no authentication: "
            "anyone who can reach this port can read every run, config and output file.",
            err=True,
        )
    typer.echo(f"Serving the workspace at {url} (read-only; Ctrl+C to stop)")
    if open_it:
        import webbrowser

        webbrowser.open(url)
    run_server(workspace, host=host, port=port, budget=budget, refresh=refresh)
