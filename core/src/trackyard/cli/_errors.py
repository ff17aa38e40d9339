"""Turn errors into one clear line, a hint and a non-zero exit (``--debug`` shows tracebacks).

``TrackyardError`` messages already name the offending thing and the fix. Any other exception
(a model's own error during ``trackyard run``) is shown as ``Error: <Type>: <message>``.
"""

from __future__ import annotations

import os
import sys

import typer

from trackyard.errors import TrackyardError

DEBUG_HINT = "(run with --debug for the traceback)"


def _debug_requested() -> bool:
    requested = "--debug" in sys.argv[1:] or os.environ.get("TRACKYARD_DEBUG") == "1"
    while "--debug" in sys.argv[1:]:
        sys.argv.remove("--debug")
    return requested


def report(exc: BaseException) -> str:
    """The text printed for ``exc``: its first line prefixed with ``Error:``, then the rest."""
    text = str(exc) if isinstance(exc, TrackyardError) else f"{type(exc).__name__}: {exc}"
    first, _, rest = text.partition("\n")
    return f"Error: {first}\n" + (rest + "\n" if rest else "")


def run_app(app: typer.Typer) -> None:
    debug = _debug_requested()
    try:
        app(standalone_mode=True, prog_name="trackyard")  # also under python -m trackyard
    except (SystemExit, KeyboardInterrupt):
        raise
    except Exception as exc:
        if debug:
            raise
        sys.stderr.write(report(exc))
        sys.stderr.write(DEBUG_HINT + "\n")
        raise SystemExit(1) from None
