"""Plugin policy: refused plugins are decided from metadata and never imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import trackyard
from trackyard.errors import PluginPolicyError

from .conftest import write_dist


def _status(reg: trackyard.Registry, name: str) -> trackyard.DomainInfo:
    return next(d for d in reg.available_domains() if d.name == name)


def test_denied_plugin_is_disabled_and_never_imported(fake_site: Path, tmp_path: Path) -> None:
    """A domain on the deny list is 'disabled' and its import-time code never runs."""
    marker = write_dist(fake_site, "evil-dist", "evil")
    (tmp_path / "pyproject.toml").write_text('[tool.trackyard.plugins]\ndeny = ["evil"]\n')
    reg = trackyard.Registry(environ={"TRACKYARD_TRUSTED_PATHS": str(fake_site)})
    info = _status(reg, "evil")
    assert info.status == "disabled"
    assert "denied by" in (info.error or "")
    with pytest.raises(PluginPolicyError, match=r"'evil'.*denied by .*pyproject.toml"):
        reg.get_tracker("evil", workspace=tmp_path / "ws")
    assert not marker.exists()


def test_deny_by_distribution_name(
    fake_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deny entry naming the distribution (any spelling) disables its domains."""
    marker = write_dist(fake_site, "evil-dist", "evil")
    trusted = {"TRACKYARD_TRUSTED_PATHS": str(fake_site)}
    assert _status(trackyard.Registry(environ=trusted), "evil").status == "available"
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.trackyard.plugins]\ndeny = ["Evil_Dist"]\n')
    monkeypatch.chdir(project)
    reg = trackyard.Registry(environ=trusted)
    assert _status(reg, "evil").status == "disabled"
    assert not marker.exists()


def test_env_allow_list_and_autoload_switch(fake_site: Path) -> None:
    """TRACKYARD_PLUGINS allows only the named; DISABLE_PLUGIN_AUTOLOAD=1 allows none."""
    write_dist(fake_site, "evil-dist", "evil")
    trusted = {"TRACKYARD_TRUSTED_PATHS": str(fake_site)}
    only = trackyard.Registry(environ={**trusted, "TRACKYARD_PLUGINS": "calibration"})
    statuses = {d.name: d.status for d in only.available_domains()}
    assert statuses == {"calibration": "available", "simulation": "disabled", "evil": "disabled"}
    assert "TRACKYARD_PLUGINS" in (_status(only, "simulation").error or "")

    none = trackyard.Registry(environ={**trusted, "TRACKYARD_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert {d.status for d in none.available_domains()} == {"disabled"}
    with pytest.raises(PluginPolicyError, match=r"TRACKYARD_DISABLE_PLUGIN_AUTOLOAD"):
        none.load("simulation")

    named = trackyard.Registry(
        environ={"TRACKYARD_DISABLE_PLUGIN_AUTOLOAD": "1", "TRACKYARD_PLUGINS": "simulation"}
    )
    assert _status(named, "simulation").status == "available"


def test_untrusted_location_is_refused_unless_trusted(fake_site: Path) -> None:
    """A dist-info outside site-packages is 'untrusted' and not imported until trusted."""
    marker = write_dist(fake_site, "stray-dist", "stray")
    reg = trackyard.Registry(environ={})
    info = _status(reg, "stray")
    assert info.status == "untrusted"
    assert str(fake_site) in (info.error or "") and "trusted_paths" in (info.error or "")
    with pytest.raises(PluginPolicyError, match=r"outside this interpreter's site-packages"):
        reg.load("stray")
    assert not marker.exists()
    trusted = trackyard.Registry(environ={"TRACKYARD_TRUSTED_PATHS": str(fake_site)})
    assert trusted.load("stray").cls.__name__ == "_T"
    assert marker.exists()


def test_entry_point_into_foreign_module_is_refused(fake_site: Path) -> None:
    """An entry point aimed at a module its distribution does not ship (os:system) is refused."""
    write_dist(fake_site, "hijack-dist", "hijack", target="os:system")
    reg = trackyard.Registry(environ={"TRACKYARD_TRUSTED_PATHS": str(fake_site)})
    info = _status(reg, "hijack")
    assert info.status == "untrusted"
    assert "module 'os'" in (info.error or "") and "not shipped by 'hijack-dist'" in (
        info.error or ""
    )
    with pytest.raises(PluginPolicyError, match=r"not shipped by 'hijack-dist'"):
        reg.load("hijack")


def test_plugin_built_for_another_major_is_incompatible(fake_site: Path) -> None:
    """A plugin requiring trackyard 2.x is 'incompatible' with the remedy, and not imported."""
    marker = write_dist(fake_site, "future-dist", "future", requires=("trackyard>=2,<3",))
    reg = trackyard.Registry(environ={"TRACKYARD_TRUSTED_PATHS": str(fake_site)})
    info = _status(reg, "future")
    assert info.status == "incompatible"
    with pytest.raises(
        PluginPolicyError, match=r"requires trackyard<3,>=2 but trackyard 0\.1\.0 is installed"
    ):
        reg.load("future")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("requires", "status"),
    [
        ("trackyard>=0.1,<1", "available"),
        ("trackyard (>=0.1)", "available"),
        ("Trackyard[dask]>=0.1", "available"),
        ("trackyard>=2", "incompatible"),
        ("trackyard==0.0.9", "incompatible"),
        ("trackyard>=2; python_version < '3'", "available"),  # marker excludes it here
        ("trackyard>=2; python_version >= '3'", "incompatible"),
        ('trackyard[dask]>=2; extra == "dask"', "available"),  # only with an optional extra
        ("trackyard-simulation>=9", "available"),  # another distribution, not the core
    ],
)
def test_core_requirement_forms(fake_site: Path, requires: str, status: str) -> None:
    """Every form of a Requires-Dist on trackyard is judged like pip would judge it."""
    write_dist(fake_site, "forms-dist", "forms", requires=(requires,))
    reg = trackyard.Registry(environ={"TRACKYARD_TRUSTED_PATHS": str(fake_site)})
    assert _status(reg, "forms").status == status


def test_strict_mode_fails_discovery(
    fake_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TRACKYARD_STRICT=1 (or strict = true) makes an untrusted plugin an error at discovery."""
    write_dist(fake_site, "stray-dist", "stray")
    with pytest.raises(PluginPolicyError, match=r"strict mode.*'stray'.*outside"):
        trackyard.Registry(environ={"TRACKYARD_STRICT": "1"}).available_domains()
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("[tool.trackyard.plugins]\nstrict = true\n")
    monkeypatch.chdir(project)
    with pytest.raises(PluginPolicyError, match=r"strict mode"):
        trackyard.Registry(environ={}).available_domains()
    relaxed = trackyard.Registry(environ={"TRACKYARD_STRICT": "0"})
    assert _status(relaxed, "stray").status == "untrusted"


def test_impostor_in_current_folder_is_never_imported(tmp_path: Path) -> None:
    """A first-party impostor dist-info in the current folder (python -c) is never imported."""
    site = tmp_path / "cwd"
    site.mkdir()
    marker = write_dist(
        site, "trackyard-calibration", "calibration", module="trackyard_calibration"
    )
    # Its own package shadows the real one for `python -c` (cwd first on sys.path).
    (site / "trackyard_calibration.py").rename(site / "trackyard_calibration_impl.py")
    pkg = site / "trackyard_calibration"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    (pkg / "plugin.py").write_text("")
    code = (
        "import trackyard\n"
        "infos = [d for d in trackyard.available_domains() if d.name == 'calibration']\n"
        "print([d.status for d in infos])\n"
        "try:\n"
        "    trackyard.get_tracker('calibration', workspace='ws')\n"
        "except trackyard.errors.TrackyardError as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKYARD_")}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=site, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "['untrusted']" in proc.stdout
    assert "PluginPolicyError" in proc.stdout and str(site) in proc.stdout
    assert not marker.exists()
    assert not (tmp_path / "cwd" / "ws").exists()


def test_first_party_editable_installs_are_trusted() -> None:
    """The editable first-party plugins (dist-info in site-packages, code in src/) are usable."""
    reg = trackyard.Registry(environ={})
    assert {d.name: d.status for d in reg.available_domains()} == {
        "calibration": "available",
        "simulation": "available",
    }


def test_plugin_set_fingerprint_tracks_the_plugin_set(fake_site: Path) -> None:
    """The fingerprint is stable for one set and changes when a plugin is added or denied."""
    base = trackyard.Registry(environ={}).plugin_set_fingerprint()
    assert base == trackyard.Registry(environ={}).plugin_set_fingerprint()
    assert base == trackyard.plugin_set_fingerprint()
    write_dist(fake_site, "extra-dist", "extra")
    trusted = trackyard.Registry(environ={"TRACKYARD_TRUSTED_PATHS": str(fake_site)})
    assert ("extra", "extra-dist", "1.0", "extra_dist") in trusted.plugin_set()
    assert trusted.plugin_set_fingerprint() != base
    fewer = trackyard.Registry(environ={"TRACKYARD_PLUGINS": "calibration"})
    assert fewer.plugin_set_fingerprint() != base
