"""A workspace, DB path or run folder holding a backslash or a NUL is refused at once with the
reason, before anything is written, and never reported as a lock held by another process
(DuckDB reads `\\` as a separator) (issue 24, item 12)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .._console import run_trackyard, user_env

COMMANDS = {
    "run": ["run", "calibration", "evaluate", "--set", "run_name=x", "--set", "config={}"],
    "runs": ["runs", "calibration"],
    "report": ["report", "-o", "out.html"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_backslash_workspace_is_refused_at_once(tmp_path: Path, command: str) -> None:
    """`-w 'back\\slash'` fails within seconds naming the path and the reason."""
    started = time.monotonic()
    proc = run_trackyard(*COMMANDS[command], "-w", "back\\slash", cwd=tmp_path, env=user_env())
    assert time.monotonic() - started < 20
    assert proc.returncode == 1
    first = proc.stderr.splitlines()[0]
    assert first == (
        f"Error: workspace {tmp_path / 'back'!s}\\slash holds a backslash, which the store "
        "(DuckDB) reads as a folder separator; use a path without backslashes (from keyword)"
    )
    assert "locked" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_nul_in_a_settings_file_path_is_refused(tmp_path: Path) -> None:
    """A NUL from a TOML string names the key's file and the character."""
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.trackyard]\ndb_path = "a\\u0000b.duckdb"\n')
    proc = run_trackyard(*COMMANDS["run"], cwd=tmp_path, env=user_env())
    assert proc.returncode == 1
    first = proc.stderr.splitlines()[0]
    assert first.startswith("Error: db_path ") and "holds a NUL character" in first, first
    assert f"(from {pyproject} [tool.trackyard])" in first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml"]
