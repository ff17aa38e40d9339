"""Shared fixtures for the first-party plugin tests: real consist, real DuckDB in tmp_path."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import trackyard

USER_MODEL = '''
import json
from pathlib import Path

import pandas as pd

VERSION = 1
FLAG = Path(__file__).with_name("fail.flag")


def model(config, config_dir):
    """A user's calibration model: fails while FLAG exists or for a negative coeff."""
    if FLAG.exists() or config["coeff"] < 0:
        raise ValueError(f"cannot run coeff={config['coeff']}")
    target = json.loads((Path(config_dir) / "targets.json").read_text())["coeff"]
    frame = pd.DataFrame({"coeff": [config["coeff"]], "version": [VERSION]})
    return {
        "persons": frame,
        "trips": frame,
        "metrics": frame,
        "mode_share_error": abs(config["coeff"] - target),
    }
'''


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh workspace folder; the test runs with cwd = tmp_path."""
    monkeypatch.chdir(tmp_path)
    return tmp_path / "ws"


@pytest.fixture
def user_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A user's model written to its own module file under tmp_path, plus its config_dir."""
    module = f"user_model_{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{module}.py"
    path.write_text(USER_MODEL, encoding="utf-8")
    config_dir = tmp_path / "cfg"
    config_dir.mkdir()
    (config_dir / "targets.json").write_text(json.dumps({"coeff": 0.5}), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    return {"model": f"{module}:model", "path": path, "config_dir": config_dir, "module": module}


@pytest.fixture
def user_calibration(workspace: Path, user_model: dict[str, Any]) -> trackyard.DomainTracker:
    """The calibration domain wired to the user's model and config_dir."""
    return trackyard.get_tracker(
        "calibration",
        workspace=workspace,
        model=user_model["model"],
        config_dir=user_model["config_dir"],
    )


def run_python(code: str, cwd: Path, extra_path: Path | None = None) -> str:
    """Run ``code`` in a fresh interpreter; return stdout; fail with stderr on error."""
    import os

    env = dict(os.environ)
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture
def python_in(tmp_path: Path) -> Callable[[str], str]:
    """Run code in a fresh interpreter with cwd and PYTHONPATH = tmp_path."""
    return lambda code: run_python(code, tmp_path, tmp_path)
