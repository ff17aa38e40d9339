"""Every command resolves settings the same way and refuses the same things: `runs`, `why`
and `report` refuse what `run` refuses, with the same message, instead of printing
"(no results)" (issue 24, item 9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .._console import run_trackyard, user_env

COMMANDS = {
    "run": ["run", "calibration", "evaluate", "--set", "config={}"],
    "runs": ["runs", "calibration"],
    "why": ["why", "0123abcd"],
    "report": ["report", "-o", "out.html"],
}


def _case(tmp_path: Path, case: str) -> tuple[dict[str, str], str]:
    """(environment, the message every command must print) for one kind of bad setting."""
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    folder = tmp_path / "afolder"
    folder.mkdir()
    if case == "workspace is a file":
        return {"TRACKYARD_WORKSPACE": str(afile)}, (
            f"workspace {afile} is a file, not a folder; choose another workspace "
            "(TRACKYARD_WORKSPACE or workspace=...)"
        )
    if case == "/etc/passwd":
        return {"TRACKYARD_WORKSPACE": "/etc/passwd"}, "workspace /etc/passwd is a file"
    if case == "db_path is a folder":
        return {"TRACKYARD_DB_PATH": str(folder)}, (
            f"db_path {folder} is a folder; point db_path at a .duckdb file"
        )
    if case == "bad cache epoch":
        return {"TRACKYARD_CACHE_EPOCH": "zero"}, "cache_epoch must be a positive integer"
    (tmp_path / "pyproject.toml").write_text('[tool.trackyard.plugins]\ntrusted_paths = ["."]\n')
    return {}, "trusted_paths is not read from a project file"


@pytest.mark.parametrize(
    "case",
    ["workspace is a file", "/etc/passwd", "db_path is a folder", "bad cache epoch", "trusted"],
)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_refuses_the_same_settings(tmp_path: Path, case: str, command: str) -> None:
    """Each command exits 1 with the message `run` gives, and writes nothing."""
    env, message = _case(tmp_path, case)
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = run_trackyard(*COMMANDS[command], cwd=tmp_path, env=user_env(env))
    assert proc.returncode == 1, proc.stdout
    assert message in proc.stderr.splitlines()[0], proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before
