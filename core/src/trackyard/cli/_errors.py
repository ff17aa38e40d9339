"""Turn errors into one clear line, a hint and a non-zero exit (``--debug`` shows tracebacks).

``TrackyardError`` messages already name the offending thing and the fix. Any other exception
(a model's own error during ``trackyard run``) is shown as ``Error: <Type>: <message>``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

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


INTERRUPTED = 130  # the shell's status for a command ended by Ctrl-C (128 + SIGINT)
INTERRUPTED_LINE = (
    "Interrupted (Ctrl-C): a run in progress is recorded failed (interrupted) and runs again "
    "next time; a run already recorded completed stays a valid result\n"
)


class _Interrupts:
    """Ctrl-C seen during this command. A library on the way may turn the KeyboardInterrupt
    into another error (DuckDB: "Query interrupted") or swallow it (a write that failed is
    logged and skipped): the command still ends as interrupted, never as a success."""

    seen = False

    @classmethod
    def handler(cls, signum: int, frame: object) -> None:
        cls.seen = True
        raise KeyboardInterrupt


def _quiet_interrupts(unraisable: Any) -> None:
    """A Ctrl-C that lands in a finalizer (a connection closed by the garbage collector) is
    not printed as "Exception ignored in ..." with a traceback: the command ends interrupted."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        _Interrupts.seen = True
        return
    sys.__unraisablehook__(unraisable)


def interrupted() -> SystemExit:
    sys.stderr.write(INTERRUPTED_LINE)
    return SystemExit(INTERRUPTED)


def run_app(app: typer.Typer) -> None:
    """Run the CLI: errors as one line (``--debug``: the traceback), Ctrl-C as exit 130 with
    one line and no traceback, whatever the interrupt became on its way up."""
    import signal

    debug = _debug_requested()
    signal.signal(signal.SIGINT, _Interrupts.handler)
    sys.unraisablehook = _quiet_interrupts
    try:
        app(standalone_mode=True, prog_name="trackyard")  # also under python -m trackyard
    except KeyboardInterrupt:
        raise interrupted() from None
    except SystemExit:
        if _Interrupts.seen:  # click turned it into "Aborted!", or the command went on
            raise interrupted() from None
        raise
    except Exception as exc:
        if _Interrupts.seen and not debug:
            raise interrupted() from None
        if debug:
            raise
        sys.stderr.write(report(exc))
        sys.stderr.write(DEBUG_HINT + "\n")
        raise SystemExit(1) from None
