"""Trust and policy settings from the environment are read as strictly as the config file's:
no relative folder (it would mean wherever the user happens to be) and no garbage flag value
(it would silently mean "off") (issue 24, items 6 and 7)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .._console import run_trackyard, user_env
from .conftest import write_dist


def _get_evil(folder: Path, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``get_tracker('evil')`` from ``folder`` (a planted plugin there), as a user would."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TRACKYARD_")}
    clean.pop("XDG_CONFIG_HOME", None)
    clean.pop("PYTHONPATH", None)
    return subprocess.run(
        [sys.executable, "-c", "import trackyard; trackyard.get_tracker('evil')"],
        cwd=folder, env={**clean, "HOME": str(home), **env}, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture
def planted(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(a downloads folder holding a plugin, its import marker, an empty home)."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    marker = write_dist(folder, "evil-dist", "evil", marker=tmp_path / "PWNED")
    home = tmp_path / "home"
    home.mkdir()
    return folder, marker, home


@pytest.mark.parametrize("value", [".", "../downloads", "downloads", "/opt/ok{sep}."])
def test_relative_trusted_paths_from_the_environment_are_refused(
    planted: tuple[Path, Path, Path], value: str
) -> None:
    """`TRACKYARD_TRUSTED_PATHS` with a relative entry is refused, naming the variable and the
    entry, and the planted plugin is never imported."""
    folder, marker, home = planted
    value = value.format(sep=os.pathsep)
    entry = value.split(os.pathsep)[-1]
    proc = _get_evil(folder, home, TRACKYARD_TRUSTED_PATHS=value)
    assert proc.returncode == 1
    assert not marker.exists()
    assert proc.stderr.strip().splitlines()[-1] == (
        "trackyard.errors.ConfigValidationError: environment TRACKYARD_TRUSTED_PATHS entry "
        f"{entry!r} is relative; write an absolute folder (or one starting with ~), so that it "
        "never means the current folder"
    )


def test_a_relative_config_file_from_the_environment_is_refused(
    planted: tuple[Path, Path, Path],
) -> None:
    """`TRACKYARD_CONFIG=config.toml` would read a config planted in the current folder: it is
    refused, naming the variable."""
    folder, marker, home = planted
    (folder / "config.toml").write_text(f'[plugins]\ntrusted_paths = ["{folder}"]\n')
    proc = _get_evil(folder, home, TRACKYARD_CONFIG="config.toml")
    assert proc.returncode == 1
    assert not marker.exists()
    assert proc.stderr.strip().splitlines()[-1] == (
        "trackyard.errors.ConfigValidationError: environment TRACKYARD_CONFIG 'config.toml' is "
        "relative; write an absolute path (or one starting with ~), so that it never means a "
        "file in the current folder"
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TRACKYARD_STRICT", "enabled"),
        ("TRACKYARD_STRICT", "2"),
        ("TRACKYARD_DISABLE_PLUGIN_AUTOLOAD", "maybe"),
        ("TRACKYARD_DISABLE_PLUGIN_AUTOLOAD", "Y"),
    ],
)
def test_garbage_flag_values_are_refused(tmp_path: Path, variable: str, value: str) -> None:
    """A flag variable holding anything but a documented spelling fails the command, naming
    the variable, the value and the accepted values (it was silently "off")."""
    proc = run_trackyard("domains", cwd=tmp_path, env=user_env({variable: value}))
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == (
        f"Error: environment {variable} must be one of 1, 0, true, false, yes, no, on, off "
        f"(or empty), got {value!r}"
    )


@pytest.mark.parametrize("value", ["1", "0", "TRUE", "no", " on ", ""])
def test_documented_flag_spellings_are_accepted(tmp_path: Path, value: str) -> None:
    """The documented spellings (any case, surrounding spaces) are read as they say."""
    for variable in ("TRACKYARD_STRICT", "TRACKYARD_DISABLE_PLUGIN_AUTOLOAD"):
        proc = run_trackyard("domains", cwd=tmp_path, env=user_env({variable: value}))
        assert proc.returncode == 0, proc.stderr
