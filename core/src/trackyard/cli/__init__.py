"""The ``trackyard`` command line (typer; rich only for tables and progress).

Each topic lives in its own module under ``trackyard.cli`` and registers commands on ``app``.
Commands that only read metadata (``domains``, ``which``) never import consist or plugin code;
every other import happens inside the command that needs it.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="trackyard",
    help="Find, inspect and run trackyard domain plugins. Add --debug to any command to see "
    "the full traceback of an error.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"max_content_width": 88, "terminal_width": 88},
)


@app.callback()
def _root() -> None:
    """Find, inspect and run trackyard domain plugins.

    Add --debug anywhere to see the full traceback of an error.
    """


# Command modules register themselves on ``app`` when imported (the order is the help order).
from trackyard.cli import demo as _demo  # noqa: E402,F401
from trackyard.cli import doctor as _doctor  # noqa: E402,F401
from trackyard.cli import domains as _domains  # noqa: E402,F401
from trackyard.cli import info as _info  # noqa: E402,F401
from trackyard.cli import install as _install  # noqa: E402,F401
from trackyard.cli import new_plugin as _new_plugin  # noqa: E402,F401
from trackyard.cli import run as _run  # noqa: E402,F401
from trackyard.cli import runs as _runs  # noqa: E402,F401
from trackyard.cli import which as _which  # noqa: E402,F401


def main() -> None:
    """Console-script entry point."""
    from trackyard.cli._errors import run_app

    run_app(app)
