"""Generate ``docs/cli.md`` from the CLI's own help: ``python -m trackyard.cli._docgen PATH``.

A test regenerates the text and compares it with the file, so the reference never drifts.
"""

from __future__ import annotations

import sys

HEADER = """# Command line

The `trackyard` command is installed with the core distribution. Every command accepts
`--help`; add `--debug` to any command to see the full traceback of an error (otherwise an
error is one line, a hint, and exit status 1). Every listing command (`domains`, `info`,
`which`, `doctor`, `runs`, `run`, `why`, `diff`) has `--json` for scripts; when stdout is not a
terminal (a pipe or a file), tables are printed with every value in full, never cut to 80
columns. `why` and `diff` are explained in [provenance](provenance.md); `export` and `import`
in [sharing runs between machines](sharing.md).

This page is generated from the CLI's own help by `python -m trackyard.cli._docgen docs/cli.md`;
a test fails when it is out of date.
"""


def help_text(*args: str) -> str:
    """The output of ``trackyard ARGS --help``, exactly as the console script prints it."""
    from typer.testing import CliRunner

    from trackyard.cli._app import app

    result = CliRunner().invoke(app, [*args, "--help"], prog_name="trackyard")
    if result.exit_code != 0:
        raise RuntimeError(f"trackyard {' '.join(args)} --help failed: {result.output}")
    return result.output


def command_names() -> list[str]:
    import typer.main

    from trackyard.cli._app import app

    group = typer.main.get_group(app)
    return list(group.commands)


def render() -> str:
    parts = [HEADER, "```text", help_text().rstrip(), "```", ""]
    for name in command_names():
        parts += [f"## trackyard {name}", "", "```text", help_text(name).rstrip(), "```", ""]
    return "\n".join(parts)


def main(argv: list[str]) -> None:
    text = render()
    if argv:
        from trackyard._userfile import write_text_atomically

        write_text_atomically(argv[0], text, "the CLI reference")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main(sys.argv[1:])
