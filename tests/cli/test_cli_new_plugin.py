"""``trackyard new-plugin``: the generated package installs, passes its tests and is discovered."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

Cli = Callable[..., subprocess.CompletedProcess[str]]


def test_new_plugin_writes_a_complete_package(cli: Cli, tmp_path: Path) -> None:
    """The scaffold holds the entry point, hooks, tracker, model, README and conformance test."""
    result = cli("new-plugin", "land_use")
    assert result.returncode == 0, result.stderr
    root = tmp_path / "trackyard-land-use"
    pyproject = (root / "pyproject.toml").read_text()
    assert '[project.entry-points."trackyard.domains"]' in pyproject
    assert 'land_use = "trackyard_land_use.plugin"' in pyproject
    assert '"trackyard>=' in pyproject
    package = root / "src" / "trackyard_land_use"
    assert 'register("land_use", LandUseTracker)' in (package / "plugin.py").read_text()
    assert "class LandUseTracker(DomainTracker)" in (package / "tracker.py").read_text()
    assert "def model(" in (package / "model.py").read_text()
    assert "DomainConformance" in (root / "tests" / "test_land_use_conformance.py").read_text()
    assert (root / "README.md").is_file()


def test_new_plugin_refuses_bad_names_and_non_empty_folders(cli: Cli, tmp_path: Path) -> None:
    """A bad domain name or an occupied folder is one clear error line and nothing is written."""
    bad = cli("new-plugin", "Traffic-Flow")
    assert bad.returncode == 1
    assert "invalid domain name 'Traffic-Flow'" in bad.stderr
    assert "Traceback" not in bad.stderr
    occupied = tmp_path / "taken"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    refused = cli("new-plugin", "traffic", "--dir", str(occupied))
    assert refused.returncode == 1
    assert "already exists and is not empty" in refused.stderr
    assert sorted(p.name for p in occupied.iterdir()) == ["keep.txt"]


@pytest.mark.slow
def test_generated_plugin_passes_its_tests_in_a_fresh_venv(
    cli: Cli, tmp_path: Path, fresh_venv: Callable[[Path], Path]
) -> None:
    """pip install -e of a new plugin in a fresh venv, then its pytest passes and it is listed
    (the third-party dependencies come from the run's shared site: tests/_venvs.py)."""
    assert cli("new-plugin", "traffic", "--dir", str(tmp_path / "pkg")).returncode == 0
    venv = tmp_path / "venv"
    python = fresh_venv(venv) / "python"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME") and not k.startswith("TRACKYARD_")
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"

    def run(*args: str, cwd: Path = tmp_path) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, f"{args}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    run(str(python), "-m", "pip", "install", "-q", "-e", str(REPO / "core"))
    run(str(python), "-m", "pip", "install", "-q", "-e", f"{tmp_path / 'pkg'}[test]")
    tests = run(str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=tmp_path / "pkg")
    assert " passed" in tests.stdout and "failed" not in tests.stdout
    listed = json.loads(run(str(venv / "bin" / "trackyard"), "domains", "--json").stdout)
    assert [(d["name"], d["distribution"], d["status"]) for d in listed] == [
        ("traffic", "trackyard-traffic", "available")
    ]
