"""consist's own CLI reads what trackyard writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import trackyard


def _consist(*args: str) -> str:
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("consist")), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_consist_runs_lists_a_sweeps_runs(workspace: Path) -> None:
    """`consist runs --db-path <ws>/provenance.duckdb` lists every run a sweep executed."""
    cal = trackyard.get_tracker("calibration", workspace=workspace)
    result = cal.sweep(grid={"mode_choice_coeff": [0.5, 1.5], "sample_rate": [0.02]})
    db = str(workspace / "provenance.duckdb")

    listed = json.loads(_consist("runs", "--db-path", db, "--json", "--limit", "50"))
    ids = {row["id"] for row in listed}
    assert {o.run_id for o in result.outcomes.values()} <= ids


def test_consist_lineage_shows_the_run_years_chain(workspace: Path) -> None:
    """`consist lineage` on the last year's output walks back through every earlier year."""
    sim = trackyard.get_tracker("simulation", workspace=workspace)
    runs = sim.run_years(name="chain", years=[2025, 2030, 2035], config={"alpha": 1.0})
    artifact = runs[-1].result.outputs["results"]

    text = _consist("lineage", str(artifact.id), "--db-path", str(workspace / "provenance.duckdb"))
    positions = [text.find(r.run_id) for r in reversed(runs)]
    assert all(p >= 0 for p in positions), text
    assert positions == sorted(positions), text
