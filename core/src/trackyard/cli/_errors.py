"""Turn trackyard errors into one clear line and a non-zero exit (``--debug`` shows tracebacks)."""

from __future__ import annotations

import os
import sys

import typer

from trackyard.errors import TrackyardError


def run_app(app: typer.Typer) -> None:
    debug = "--debug" in sys.argv[1:] or os.environ.get("TRACKYARD_DEBUG") == "1"
    if "--debug" in sys.argv:
        sys.argv.remove("--debug")
    try:
        app(standalone_mode=True)
    except TrackyardError as exc:
        if debug:
            raise
        first, _, rest = str(exc).partition("\n")
        sys.stderr.write(f"Error: {first}\n")
        if rest:
            sys.stderr.write(rest + "\n")
        sys.stderr.write("(run with --debug for the traceback)\n")
        raise SystemExit(1) from None
