"""`trackyard install/uninstall/plugins export` against real local plugin packages in a fresh venv.

One virtual environment is created per module (the core installed editable from this checkout;
the third-party dependencies from the run's shared site, tests/_venvs.py); every command runs
as a subprocess of that venv's own `trackyard`. pip builds the plugin folders without build
isolation (``PIP_NO_BUILD_ISOLATION=0``; their backend, hatchling, is in the shared site):
an isolated build installs hatchling into a new environment first, ~3 s of each of the
file's ~14 builds, and what these tests check is trackyard's handling of pip, not that.
"""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from .._venvs import new_venv

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass(frozen=True)
class Venv:
    python: Path
    trackyard: Path
    work: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env.pop("TRACKYARD_PROVIDERS", None)
        env["PIP_NO_BUILD_ISOLATION"] = "0"  # pip's spelling: "0" turns isolation off
        return subprocess.run(
            [str(self.trackyard), *args],
            cwd=self.work,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    def pip_list(self) -> set[str]:
        out = subprocess.run(
            [str(self.python), "-m", "pip", "list", "--format", "json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return {p["name"].lower().replace("_", "-") for p in json.loads(out)}

    def domains(self) -> dict[str, list[tuple[str, str]]]:
        proc = self.run("domains", "--json")
        assert proc.returncode == 0, proc.stderr
        out: dict[str, list[tuple[str, str]]] = {}
        for d in json.loads(proc.stdout):
            out.setdefault(d["name"], []).append((d["distribution"], d["status"]))
        return out

    def ensure(self, dist: str, fixture: str | None) -> None:
        """Install (fixture given) or uninstall (None) ``dist``: a known starting set."""
        present = dist in self.pip_list()
        if fixture is None and present:
            pip = [str(self.python), "-m", "pip", "uninstall", "-q", "-y", dist]
            subprocess.run(pip, check=True)
        if fixture is not None and not present:
            proc = self.run("install", str(FIXTURES / fixture))
            assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    root = tmp_path_factory.mktemp("install-venv")
    env_dir = root / "env"
    python = new_venv(env_dir, tmp_path_factory) / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-e", str(REPO / "core")],
        check=True,
        capture_output=True,
    )
    work = root / "work"
    work.mkdir()
    return Venv(python, env_dir / "bin" / "trackyard", work)


def test_install_local_plugin_adds_its_domain(venv: Venv) -> None:
    """Installing a valid local plugin folder reports its domain and `domains` lists it."""
    venv.ensure("yard-good-plugin", None)
    proc = venv.run("install", str(FIXTURES / "good"))
    assert proc.returncode == 0, proc.stderr
    assert "Installed yard-good-plugin 0.1.0 (goodyard)" in proc.stdout
    assert "Domains added: goodyard [validated]" in proc.stdout
    assert "yard-good-plugin" in venv.pip_list()
    assert venv.domains()["goodyard"] == [("yard-good-plugin", "available")]


def test_invalid_plugin_is_rolled_back_with_its_new_dependency(venv: Venv) -> None:
    """A plugin registering a non-DomainTracker is uninstalled again, with the dependency pip
    pulled in for it, and the command fails with the reason."""
    assert "iniconfig" not in venv.pip_list()
    proc = venv.run("install", str(FIXTURES / "invalid"))
    assert proc.returncode == 1
    assert "failed validation, so the install was rolled back" in proc.stderr
    assert "it must be a trackyard.DomainTracker subclass" in proc.stderr
    installed = venv.pip_list()
    assert "yard-invalid-plugin" not in installed
    assert "iniconfig" not in installed
    assert "invalidyard" not in venv.domains()


def test_conflicting_plugin_is_rolled_back_and_existing_domain_survives(venv: Venv) -> None:
    """A plugin claiming an installed domain name is rolled back; the existing provider stays."""
    venv.ensure("yard-good-plugin", "good")
    proc = venv.run("install", str(FIXTURES / "conflict"))
    assert proc.returncode == 1
    assert "domain 'goodyard' is provided by 2 distributions" in proc.stderr
    assert "yard-conflict-plugin" not in venv.pip_list()
    assert venv.domains()["goodyard"] == [("yard-good-plugin", "available")]


def test_no_check_keeps_invalid_plugin_and_uninstall_by_domain_removes_it(venv: Venv) -> None:
    """--no-check installs without validating; `uninstall DOMAIN` then removes its distribution."""
    proc = venv.run("install", "--no-check", str(FIXTURES / "invalid"))
    assert proc.returncode == 0, proc.stderr
    assert "not validated (--no-check)" in proc.stdout
    assert "invalidyard" in venv.domains()
    proc = venv.run("uninstall", "invalidyard")
    assert proc.returncode == 0, proc.stderr
    assert "Uninstalled yard-invalid-plugin 0.1.0 (invalidyard)" in proc.stdout
    assert "yard-invalid-plugin" not in venv.pip_list()
    assert "invalidyard" not in venv.domains()


def test_uninstall_refuses_the_core(venv: Venv) -> None:
    """`trackyard uninstall trackyard` is refused and the core stays installed."""
    proc = venv.run("uninstall", "trackyard")
    assert proc.returncode == 1
    assert "refusing to uninstall the trackyard core" in proc.stderr
    assert "trackyard" in venv.pip_list()


def test_uninstall_unknown_name_lists_what_is_installed(venv: Venv) -> None:
    """An unknown name is an error naming the installed domains and plugin distributions."""
    venv.ensure("yard-good-plugin", "good")
    proc = venv.run("uninstall", "nosuchyard")
    assert proc.returncode == 1
    assert "no installed domain or plugin distribution is named 'nosuchyard'" in proc.stderr
    assert "domains: goodyard; plugin distributions: yard-good-plugin" in proc.stderr


def test_pip_failure_is_one_line_and_debug_shows_pip_output(venv: Venv) -> None:
    """A pip failure prints one error line (no pip dump); --debug adds pip's own output."""
    proc = venv.run("install", str(FIXTURES / "unbuildable"))
    assert proc.returncode == 1
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1
    assert "pip could not install" in errors[0]
    assert "RuntimeError: this fixture fails to build on purpose" in errors[0]
    assert "metadata-generation-failed" not in proc.stderr
    assert proc.stdout == ""
    debug = venv.run("--debug", "install", str(FIXTURES / "unbuildable"))
    assert debug.returncode != 0
    assert "metadata-generation-failed" in debug.stderr
    assert "yard-unbuildable-plugin" not in venv.pip_list()


def test_lock_round_trip_restores_the_editable_plugin_set(venv: Venv) -> None:
    """export, uninstall, `install -r LOCK` gives back the same set, editable source included."""
    venv.ensure("yard-good-plugin", None)
    proc = venv.run("install", "--editable", str(FIXTURES / "good"))
    assert proc.returncode == 0, proc.stderr
    lock_path = venv.work / "plugins.lock.toml"
    assert venv.run("plugins", "export", "--output", str(lock_path)).returncode == 0
    lock = tomllib.loads(lock_path.read_text())
    assert lock["core"]["name"] == "trackyard"
    assert [(p["name"], p["editable"]) for p in lock["plugins"]] == [("yard-good-plugin", True)]
    assert lock["plugins"][0]["url"] == (FIXTURES / "good").as_uri()

    assert venv.run("uninstall", "yard-good-plugin").returncode == 0
    assert "goodyard" not in venv.domains()
    proc = venv.run("install", "-r", str(lock_path))
    assert proc.returncode == 0, proc.stderr
    assert "Installed yard-good-plugin 0.1.0 (goodyard)" in proc.stdout
    again = venv.run("plugins", "export")
    assert again.returncode == 0
    assert again.stdout == lock_path.read_text()
    assert venv.domains()["goodyard"] == [("yard-good-plugin", "available")]


def test_reinstalling_a_changed_folder_says_so_and_validates(venv: Venv, tmp_path: Path) -> None:
    """`trackyard install ./plugin` again after its code changed (same version): pip
    reinstalls it, and trackyard says so, validates it and says cached runs re-run, instead
    of "Nothing new was installed"; unchanged code says nothing changed; switching to an
    editable install is named."""
    import shutil

    venv.ensure("yard-good-plugin", None)
    folder = tmp_path / "good"
    shutil.copytree(FIXTURES / "good", folder)
    first = venv.run("install", str(folder))
    assert first.returncode == 0, first.stderr
    plugin = folder / "src" / "yard_good" / "plugin.py"
    plugin.write_text(plugin.read_text() + "\n# a changed line: the model's code changed\n")

    changed = venv.run("install", str(folder))
    assert changed.returncode == 0, changed.stderr
    assert "Nothing new was installed" not in changed.stdout
    assert (
        "Reinstalled yard-good-plugin 0.1.0 from its folder: code changed (validated); runs "
        "cached with the old code re-run on their next call"
    ) in changed.stdout

    same = venv.run("install", str(folder))
    assert same.returncode == 0, same.stderr
    assert (
        "Reinstalled yard-good-plugin 0.1.0 from its folder: code unchanged; nothing else "
        "changed, cached results stay valid"
    ) in same.stdout

    editable = venv.run("install", "-e", str(folder))
    assert editable.returncode == 0, editable.stderr
    assert (
        "Reinstalled yard-good-plugin 0.1.0 from its folder: regular -> editable install"
    ) in editable.stdout
    venv.ensure("yard-good-plugin", None)
