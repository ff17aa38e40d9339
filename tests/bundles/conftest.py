"""Helpers for the bundle tests: real workspaces made by a real process, the real CLI."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

TRACKYARD = Path(sys.executable).parent / "trackyard"


def user_env() -> dict[str, str]:
    """A user's shell: no TRACKYARD_ variables, a wide plain terminal."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TRACKYARD_")}
    environ.update({"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"})
    return environ


# A user's script: two executed runs and a cache hit of the first, in the workspace argv[1].
MAKE_RUNS = """
import sys
from pathlib import Path
import trackyard

sim = trackyard.get_tracker("simulation", workspace=Path(sys.argv[1]))
sim.run_model(name="a", config={"alpha": 1.0, "seed": 1})
sim.run_model(name="b", config={"alpha": 1.2, "seed": 1})
assert sim.run_model(name="a-again", config={"alpha": 1.0, "seed": 1}).cache_hit
"""


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``trackyard ARGS`` in ``cwd``, as a user's shell runs it."""
    return subprocess.run(
        [str(TRACKYARD), *args],
        cwd=cwd,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def run_json(cwd: Path, ws: Path, name: str, alpha: float) -> dict[str, Any]:
    """``trackyard run simulation run_model`` in ``ws``; its JSON outcome."""
    done = cli(
        "run", "simulation", "run_model", "-w", str(ws), "--json",
        "--set", f"name={name}", "--set", f"config.alpha={alpha}", "--set", "config.seed=1",
        cwd=cwd,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative path -> sha256 of its bytes): a byte comparison."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: builds a fresh virtual environment (~2-5 min)")


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace on "the cluster": runs a and b executed, a-again a hit of a."""
    home = tmp_path_factory.mktemp("cluster")
    script = home / "make_runs.py"
    script.write_text(MAKE_RUNS, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script), str(home / "ws")],
        cwd=home,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return home / "ws"


@pytest.fixture(scope="module")
def bundle(origin: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulation runs of ``origin`` exported with the CLI to a .tar.gz."""
    out = tmp_path_factory.mktemp("carry") / "sim.tar.gz"
    done = cli("export", "simulation", "-w", str(origin), "-o", str(out), cwd=origin.parent)
    assert done.returncode == 0, done.stderr
    assert "exported 3 run(s)" in done.stdout
    return out
