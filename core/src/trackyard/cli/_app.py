"""The typer application every command module registers on (imported by them, never the other
way round, so the command modules do not import the package that imports them)."""

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
