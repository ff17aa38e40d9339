"""Fresh virtual environments for the tests that install trackyard and plugins with pip.

What those tests check is the install of trackyard, a plugin or a scaffold into a new
environment, not pip's download of pandas, pyarrow and DuckDB: each fresh venv (with its own
pip) gets a ``.pth`` file naming the site-packages of one *dependencies venv*, built once per
pytest run (shared by the xdist processes through a lock) with the third-party dependencies
the core and the first-party plugins declare, and nothing of this repository. pip in the fresh
venv sees those distributions as installed (so ``pip install -e core`` installs trackyard
alone), and installs, lists and uninstalls everything else in the fresh venv itself, which
comes first on ``sys.path`` (pip never removes a distribution outside its environment).
This cuts a fresh venv with the core from ~55 s to ~13 s.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The declared dependencies of these distributions, minus the repository's own.
SOURCES = (REPO / "core", REPO / "plugins" / "simulation", REPO / "plugins" / "calibration")
OWN = {"trackyard", "trackyard-simulation", "trackyard-calibration"}


def _requirements() -> list[str]:
    found: list[str] = []
    for source in SOURCES:
        project = tomllib.loads((source / "pyproject.toml").read_text())["project"]
        for requirement in project.get("dependencies", []):
            name = re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower()
            if name.replace("_", "-") not in OWN and requirement not in found:
                found.append(requirement)
    return found


def _site_packages(venv: Path) -> Path:
    """A venv's purelib folder (``lib/pythonX.Y/site-packages`` on POSIX)."""
    return Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))


def _run_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary folder this pytest run's xdist processes share (their common parent)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def dependencies_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site-packages of this run's dependencies venv, built by the first caller (the
    other xdist processes wait on the lock, then reuse it)."""
    root = _run_root(tmp_path_factory)
    venv = root / "deps-venv"
    done = root / "deps-venv.done"
    with open(root / "deps-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
            subprocess.run([*pip, *_requirements()], check=True, capture_output=True)
            done.write_text("ok\n")
    return _site_packages(venv)


def new_venv(path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv at ``path`` (its own pip, nothing of trackyard) that sees the run's shared
    third-party dependencies; returns its ``bin`` folder."""
    site = dependencies_site(tmp_path_factory)
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    (_site_packages(path) / "_trackyard_test_dependencies.pth").write_text(f"{site}\n")
    return path / "bin"
