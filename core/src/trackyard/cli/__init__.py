"""The ``trackyard`` command line (typer; rich only for tables and progress).

Each topic lives in its own module under ``trackyard.cli`` and registers commands on the typer
application of ``trackyard.cli._app``. Commands that only read metadata (``domains``,
``which``) never import consist or plugin code; every other import happens inside the command
that needs it.
"""

from __future__ import annotations

# Command modules register themselves on ``app`` when imported (the order is the help order).
from trackyard.cli import demo as _demo  # noqa: F401
from trackyard.cli import doctor as _doctor  # noqa: F401
from trackyard.cli import domains as _domains  # noqa: F401
from trackyard.cli import info as _info  # noqa: F401
from trackyard.cli import install as _install  # noqa: F401
from trackyard.cli import new_plugin as _new_plugin  # noqa: F401
from trackyard.cli import report as _report  # noqa: F401
from trackyard.cli import run as _run  # noqa: F401
from trackyard.cli import runs as _runs  # noqa: F401
from trackyard.cli import serve as _serve  # noqa: F401
from trackyard.cli import transfer as _transfer  # noqa: F401
from trackyard.cli import which as _which  # noqa: F401
from trackyard.cli import why as _why  # noqa: F401
from trackyard.cli._app import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    from trackyard.cli._errors import interrupted, run_app

    try:
        run_app(app)
    except KeyboardInterrupt:  # Ctrl-C before run_app took over
        raise interrupted() from None
