"""The bundle travels to another virtual environment with the same plugins (installed from
their sources, not in editable mode, as another machine would have them): the import raises
no plugin-set warning and the same call there is a cache hit with identical outputs."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_another_venv_with_the_same_plugins_gets_hits(
    origin: Path, bundle: Path, tmp_path: Path, fresh_venv: Callable[[Path], Path]
) -> None:
    venv = tmp_path / "venv"
    fresh_venv(venv)  # third-party dependencies shared: tests/_venvs.py
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME") and not k.startswith("TRACKYARD_")
    }
    env.update({"PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", "COLUMNS": "200"})

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            list(args), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200
        )
        assert done.returncode == 0, f"{args}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    sources = [REPO / "core", REPO / "plugins" / "simulation", REPO / "plugins" / "calibration"]
    run(str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *map(str, sources))
    trackyard = str(venv / "bin" / "trackyard")
    ws = tmp_path / "ws"
    imported = run(trackyard, "import", str(bundle), "-w", str(ws))
    assert imported.stdout.startswith("imported 3 run(s)")
    assert "Warning" not in imported.stdout + imported.stderr
    again = json.loads(
        run(
            trackyard, "run", "simulation", "run_model", "-w", str(ws), "--json",
            "--set", "name=a-elsewhere", "--set", "config.alpha=1.0", "--set", "config.seed=1",
        ).stdout
    )  # fmt: skip
    assert again["cache_hit"] is True
    here = Path(again["outputs"]["results"])
    there = next((origin / "runs").rglob(f"{again['cache_source']}/results.parquet"))
    assert here.read_bytes() == there.read_bytes()
