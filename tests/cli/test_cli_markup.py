"""Text from plugins and users (signatures, docstrings, run names, error details) is printed as
written: square brackets and ``:emoji:`` codes are never read as rich markup."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from .._console import run_trackyard
from .._scaffold_site import installed_scaffold

Cli = Callable[..., subprocess.CompletedProcess[str]]

MARKUP_FOLDER = "[bold]ws[/bold] [optuna] :smile:"


def test_info_table_prints_signatures_and_docstrings_as_written(cli: Cli) -> None:
    """`trackyard info calibration` keeps `Mapping[str, Any]` and `[optuna]` in its table."""
    result = cli("info", "calibration", "--format", "table")
    assert result.returncode == 0, result.stderr
    assert "evaluate(run_name: str, config: Mapping[str, Any])" in result.stdout
    assert "trackyard-calibration[optuna]" in result.stdout


def test_run_prints_paths_as_written(cli: Cli, tmp_path: Path) -> None:
    """A workspace folder whose name holds markup and an emoji code is printed literally in the
    output paths `trackyard run` shows."""
    config = json.dumps({"a": 0.1, "b": 0.2, "c": 0.3})
    ran = cli(
        "run", "calibration", "evaluate", "-w", MARKUP_FOLDER,
        "--set", "run_name=base", "--set", f"config={config}",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert str(tmp_path / MARKUP_FOLDER) in ran.stdout


def test_doctor_prints_a_plugin_error_as_written(tmp_path: Path) -> None:
    """A failing check's detail from the plugin keeps its brackets in doctor's table."""
    env = installed_scaffold(tmp_path, "    raise KeyError('[red]column[/red] [rmse] missing')")
    result = run_trackyard("doctor", "epidemic", cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "KeyError: '[red]column[/red] [rmse] missing'" in result.stdout
