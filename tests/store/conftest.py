"""Helpers for the store tests: real CLI processes on one workspace, real DuckDB files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

HERE = Path(__file__).parent
TRACKYARD = Path(sys.executable).parent / "trackyard"
PYPROJECT = """
[tool.trackyard.domains.calibration]
model = "store_models:calib"
"""


def env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no TRACKYARD_ variables, the models importable."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TRACKYARD_")}
    environ.update({"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb", "PYTHONPATH": str(HERE)})
    environ.update(extra)
    return environ


def start(cwd: Path, *args: str, **extra: str) -> subprocess.Popen[str]:
    """Start ``trackyard ARGS`` in ``cwd``."""
    return subprocess.Popen(
        [str(TRACKYARD), *args],
        cwd=cwd,
        env=env(**extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def cli(cwd: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """Run ``trackyard ARGS`` in ``cwd`` to the end."""
    return subprocess.run(
        [str(TRACKYARD), *args],
        cwd=cwd,
        env=env(**extra),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def sweep_args(ws: Path, configs: dict[str, dict[str, Any]], executor: str = "serial") -> list[str]:
    """``trackyard run calibration sweep`` arguments for ``configs``."""
    return [
        "run", "calibration", "sweep", "-w", str(ws), "--json",
        "--set", f"configs_by_label={json.dumps(configs)}",
        "--set", f"executor={executor}", "--set", "progress=false",
    ]  # fmt: skip


def db_runs(db: Path) -> dict[str, str]:
    """Every run id in the store and its status."""
    with duckdb.connect(str(db), read_only=True) as con:
        return {str(r[0]): str(r[1]) for r in con.execute("SELECT id, status FROM run").fetchall()}


def content_rows(db: Path) -> list[tuple[Any, ...]]:
    """Every artifact content row, every column (its id and created_at included)."""
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT * FROM artifact_content ORDER BY content_hash, driver"
        ).fetchall()


def snapshot_runs(run_dir: Path) -> dict[str, str]:
    """Every JSON snapshot's run id and status."""
    out = {}
    for path in (run_dir / "consist_runs").glob("*.json"):
        run = json.loads(path.read_text())["run"]
        out[str(run["id"])] = str(run["status"])
    return out


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder whose pyproject.toml points the calibration domain at a test model."""
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    return tmp_path
