"""Issue 13, the name trap: new-plugin and install never silently replace a first-party plugin."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

Cli = Callable[..., subprocess.CompletedProcess[str]]


def test_new_plugin_refuses_a_first_party_domain_name(cli: Cli, tmp_path: Path) -> None:
    """`trackyard new-plugin calibration` is one clear error line and writes nothing."""
    result = cli("new-plugin", "calibration")
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "Error: domain 'calibration' is already provided by the first-party distribution "
        "'trackyard-calibration'; choose another domain name (two plugins claiming one name "
        "conflict, and installing this one would replace it)"
    )
    assert list(tmp_path.iterdir()) == []


def test_new_plugin_refuses_taken_distribution_and_package(cli: Cli, tmp_path: Path) -> None:
    """--dist or --package naming an installed distribution or package is refused."""
    dist = cli("new-plugin", "traffic", "--dist", "trackyard_simulation")
    assert dist.returncode == 1
    assert dist.stderr.splitlines()[0] == (
        "Error: distribution name 'trackyard_simulation' is a first-party distribution: "
        "installing this package would replace it; choose another with --dist (for example "
        "'acme-traffic')"
    )
    package = cli("new-plugin", "traffic", "--dist", "acme-traffic", "--package", "json")
    assert package.returncode == 1
    assert package.stderr.splitlines()[0].startswith(
        "Error: package name 'json' is already importable (from "
    )
    assert package.stderr.splitlines()[0].endswith(
        ": choose another with --package (for example 'acme_traffic')"
    )
    assert list(tmp_path.iterdir()) == []


def test_new_plugin_uses_the_given_names_and_a_bounded_core_requirement(
    cli: Cli, tmp_path: Path
) -> None:
    """--dist and --package name the project and package; the core requirement has a ceiling."""
    result = cli("new-plugin", "traffic", "--dist", "acme-traffic", "--package", "acme_traffic")
    assert result.returncode == 0, result.stderr
    pyproject = (tmp_path / "acme-traffic" / "pyproject.toml").read_text()
    assert 'name = "acme-traffic"' in pyproject
    assert 'traffic = "acme_traffic.plugin"' in pyproject
    assert 'dependencies = ["trackyard>=0.1,<0.2"]' in pyproject
    assert (tmp_path / "acme-traffic" / "src" / "acme_traffic" / "plugin.py").is_file()


def test_install_refuses_to_replace_an_installed_distribution(cli: Cli, tmp_path: Path) -> None:
    """Installing a local project named like the installed trackyard-calibration is refused."""
    impostor = tmp_path / "impostor"
    impostor.mkdir()
    # A backend that does not exist: even a broken refusal could not replace the real plugin.
    (impostor / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["no-such-backend-13"]\nbuild-backend = "nope"\n'
        '[project]\nname = "trackyard-calibration"\nversion = "9.9"\n'
    )
    result = cli("install", str(impostor))
    assert result.returncode == 1
    from importlib.metadata import version

    real = Path(__file__).resolve().parents[2] / "plugins" / "calibration"
    assert result.stderr.splitlines()[0] == (
        "Error: refusing to replace an installed distribution with a different project: "
        f"{impostor} is project 'trackyard-calibration', which would replace the installed "
        f"trackyard-calibration {version('trackyard-calibration')} (from {real}). Rename the "
        "project ([project] name in its pyproject.toml), or pass --replace to replace it"
    )
    assert "Traceback" not in result.stderr
