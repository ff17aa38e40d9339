"""docs/cli.md is the CLI's own help, regenerated and compared."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from trackyard.cli._docgen import command_names, render

CLI_MD = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
FIX = "regenerate it: python -m trackyard.cli._docgen docs/cli.md"


def test_cli_reference_matches_the_help() -> None:
    """docs/cli.md equals the help text of every command; a new or changed option fails here."""
    assert CLI_MD.read_text(encoding="utf-8") == render(), f"docs/cli.md is stale; {FIX}"


def test_cli_reference_is_what_the_console_script_prints() -> None:
    """The installed `trackyard` script prints, for each command, the help recorded in the docs."""
    text = CLI_MD.read_text(encoding="utf-8")
    script = Path(sys.executable).parent / "trackyard"
    env = {**os.environ, "COLUMNS": "200"}
    for name in ["", *command_names()]:
        args = [name] if name else []
        out = subprocess.run(
            [str(script), *args, "--help"], capture_output=True, text=True, env=env, check=True
        ).stdout
        assert f"```text\n{out.rstrip()}\n```" in text, f"help of {name or 'trackyard'}; {FIX}"
