"""The demo (`trackyard demo`): a calibration of the demo model, served from cache on rerun."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rich.console import Console

from trackyard.demo import DEMO_SPACE, run_demo

N = len(DEMO_SPACE["mode_choice_coeff"])


def _run(workspace: Path) -> str:
    console = Console(record=True, width=200)
    assert run_demo(workspace, console) == 0
    return console.export_text()


def test_demo_shows_top_runs_best_config_and_provenance(workspace: Path) -> None:
    """The first run executes every evaluation and prints a table, the best config, the DB and
    the path of the report it wrote (history, slices and top runs)."""
    text = _run(workspace)
    assert "Top runs by mode_share_error" in text
    assert "Best config: {'sample_rate': 0.1, 'seed': 42, 'mode_choice_coeff': 1.2}" in text
    assert f"{N} evaluations: {N} executed, 0 served from cache, 0 failed" in text
    assert str(workspace / "provenance.duckdb") in text
    assert (workspace / "provenance.duckdb").is_file()
    report = workspace.absolute() / "report.html"
    assert f"Report (history, slices, top runs): {report}" in text
    assert (
        f"Watch the next calibration live in your browser: trackyard serve --workspace {workspace}"
        in text
    )
    page = report.read_text(encoding="utf-8")
    assert "Optimisation history" in page and "Metric against each parameter" in page
    assert "Top runs" in page


def test_demo_second_run_is_served_from_cache(workspace: Path) -> None:
    """Run twice, the demo executes nothing the second time and says so with counts."""
    first = _run(workspace)
    second = _run(workspace)
    assert f"{N} executed" in first
    assert f"All {N} evaluations were served from cache ({N} cached, 0 executed)." in second
    best = [line for line in second.splitlines() if line.startswith("Best config")]
    assert best == [line for line in first.splitlines() if line.startswith("Best config")]


def test_demo_in_a_fresh_process_uses_dot_trackyard_in_the_cwd(tmp_path: Path) -> None:
    """`run_demo()` with no arguments writes ./.trackyard and, run again, executes nothing."""
    code = "from trackyard.demo import run_demo; run_demo()"

    def run() -> str:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout

    first, second = run(), run()
    assert (tmp_path / ".trackyard" / "provenance.duckdb").is_file()
    assert f"{N} executed" in first
    assert f"({N} cached, 0 executed)" in second
    assert str(tmp_path / ".trackyard" / "provenance.duckdb") in second.replace("\n", "")
    assert str(tmp_path / ".trackyard" / "report.html") in second.replace("\n", "")
    assert (tmp_path / ".trackyard" / "report.html").is_file()
