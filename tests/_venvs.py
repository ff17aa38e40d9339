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

The dependencies site is not built by pip (60 to 200 s of downloads and unpacking, on the
critical path of the run: the first fresh venv waits for it): it is a folder of symbolic links
to the distributions this test environment already has, the declared requirements and what
they require, each with its ``.dist-info`` (so the versions are the ones the suite tests). It
falls back to a pip-built venv when one of them is not installed here, or lists no files.
"""

from __future__ import annotations

import fcntl
import importlib.metadata
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
# The build backend of the test plugins (tests/install/fixtures): in the site too, so a fresh
# venv can build them without pip's build isolation (PIP_NO_BUILD_ISOLATION=0), which would
# otherwise install hatchling into a new environment for every build (~3 s each).
BUILD_REQUIREMENTS = ["hatchling>=1.24", "editables>=0.3"]  # editables: editable builds


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
    """This run's shared dependencies site, made by the first caller (the other xdist
    processes wait on the lock, then reuse it)."""
    root = _run_root(tmp_path_factory)
    linked, venv = root / "deps-site", root / "deps-venv"
    done = root / "deps-venv.done"
    with open(root / "deps-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            if link_site(linked):
                done.write_text(f"{linked}\n")
            else:
                subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
                pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
                requirements = [*_requirements(), *BUILD_REQUIREMENTS]
                subprocess.run([*pip, *requirements], check=True, capture_output=True)
                done.write_text(f"{_site_packages(venv)}\n")
    return Path(done.read_text().strip())


def _closure() -> list[importlib.metadata.Distribution] | None:
    """The installed distributions the requirements need, transitively (None: one missing)."""
    from packaging.requirements import Requirement

    found: dict[str, importlib.metadata.Distribution] = {}
    todo = [Requirement(r) for r in (*_requirements(), *BUILD_REQUIREMENTS)]
    while todo:
        requirement = todo.pop()
        key = re.sub(r"[-_.]+", "-", requirement.name).lower()
        if key in found:
            continue
        try:
            found[key] = importlib.metadata.distribution(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            return None
        for text in found[key].requires or []:
            needed = Requirement(text)
            extras = ["", *sorted(requirement.extras)]
            if needed.marker is None or any(needed.marker.evaluate({"extra": e}) for e in extras):
                todo.append(needed)
    return list(found.values())


def link_site(folder: Path) -> bool:
    """Fill ``folder`` with links to the top-level files of every distribution the
    requirements need (modules, packages, ``.dist-info``); False when one is not installed
    in this environment or does not list its files (then pip builds the site)."""
    dists = _closure()
    if dists is None:
        return False
    tops: dict[str, Path] = {}
    for dist in dists:
        if not dist.files:
            return False
        for file in dist.files:
            top = file.parts[0]
            if top in ("..", "__pycache__") or top.endswith(".pth"):
                continue  # scripts, bytecode, and start-up hooks stay where they are
            tops[top] = Path(str(dist.locate_file(top)))
    folder.mkdir(parents=True, exist_ok=True)
    for top, target in sorted(tops.items()):
        if target.exists():
            (folder / top).symlink_to(target)
    return True


def new_venv(path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv at ``path`` (its own pip, nothing of trackyard) that sees the run's shared
    third-party dependencies; returns its ``bin`` folder."""
    site = dependencies_site(tmp_path_factory)
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    (_site_packages(path) / "_trackyard_test_dependencies.pth").write_text(f"{site}\n")
    return path / "bin"
