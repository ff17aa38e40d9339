"""The ``trackyard`` command line (typer + rich).

Each topic lives in its own module under ``trackyard.cli`` and registers commands on ``app``.
Commands that only read metadata never import consist or plugin code.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="trackyard",
    help="Find, inspect and run trackyard domain plugins.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Find, inspect and run trackyard domain plugins."""


# Command modules register themselves on ``app`` when imported.
from trackyard.cli import domains as _domains  # noqa: E402,F401
from trackyard.cli import install as _install  # noqa: E402,F401


def main() -> None:
    """Console-script entry point."""
    from trackyard.cli._errors import run_app

    run_app(app)
