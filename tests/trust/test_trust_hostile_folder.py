"""A planted folder cannot vouch for itself: no file inside it makes its plugin code run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import trackyard
from trackyard.errors import ConfigValidationError

from .conftest import write_dist

# Every file a hostile folder might drop to grant itself trust.
PLANTS = {
    "pyproject-trusted-dot": {
        "pyproject.toml": '[tool.trackyard.plugins]\ntrusted_paths = ["."]\n'
    },
    "pyproject-allow-not-strict": {
        "pyproject.toml": '[tool.trackyard.plugins]\nallow = ["evil"]\nstrict = false\n'
    },
    "user-config-lookalikes": {
        "config.toml": '[plugins]\ntrusted_paths = ["{here}"]\n',
        "trackyard.toml": '[plugins]\ntrusted_paths = ["{here}"]\n',
        ".config/trackyard/config.toml": '[plugins]\ntrusted_paths = ["{here}"]\n',
        ".trackyard/config.toml": '[plugins]\ntrusted_paths = ["{here}"]\n',
        ".env": "TRACKYARD_TRUSTED_PATHS=.\n",
    },
}


def _clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKYARD_")}
    env.pop("XDG_CONFIG_HOME", None)
    env.pop("PYTHONPATH", None)
    return {**env, "HOME": str(home), **extra}


@pytest.mark.parametrize("strict", ["", "1"])
@pytest.mark.parametrize("plant", sorted(PLANTS))
def test_planted_folder_cannot_grant_itself_trust(tmp_path: Path, plant: str, strict: str) -> None:
    """get_tracker in a folder holding a plugin and any trust file never imports the plugin."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    marker = write_dist(folder, "evil-dist", "evil", marker=tmp_path / "PWNED")
    for name, text in PLANTS[plant].items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text.replace("{here}", str(folder)))
    home = tmp_path / "home"
    home.mkdir()
    env = _clean_env(home, **({"TRACKYARD_STRICT": strict} if strict else {}))
    proc = subprocess.run(
        [sys.executable, "-c", "import trackyard; trackyard.get_tracker('evil')"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert not marker.exists(), proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    if plant == "pyproject-trusted-dot":
        assert last == (
            f"trackyard.errors.ConfigValidationError: {folder.resolve() / 'pyproject.toml'} "
            "[tool.trackyard.plugins]: trusted_paths is not read from a project file, because "
            "a folder cannot vouch for itself; put it in "
            f"{home / '.config' / 'trackyard' / 'config.toml'} [plugins] or "
            f"TRACKYARD_TRUSTED_PATHS, and remove it from {folder.resolve() / 'pyproject.toml'}"
        )
    else:
        assert last.startswith("trackyard.errors.PluginPolicyError: ")
        assert "'evil' from distribution 'evil-dist'" in last
        assert "outside this interpreter's site-packages" in last


def test_user_config_file_grants_trust(fake_site: Path, tmp_path: Path) -> None:
    """trusted_paths in the user's own config file (outside the folder) admits the plugin."""
    write_dist(fake_site, "evil-dist", "evil")
    config = tmp_path / "home" / "trackyard.toml"
    config.parent.mkdir()
    config.write_text(f'[plugins]\ntrusted_paths = ["{fake_site}"]\n')
    reg = trackyard.Registry(environ={"TRACKYARD_CONFIG": str(config)})
    status = {d.name: d.status for d in reg.available_domains()}
    assert status["evil"] == "available"


def test_user_config_relative_trusted_path_is_refused(fake_site: Path, tmp_path: Path) -> None:
    """A relative trusted_paths entry in the user config is refused, so it never means '.'."""
    config = tmp_path / "trackyard.toml"
    config.write_text('[plugins]\ntrusted_paths = ["."]\n')
    reg = trackyard.Registry(environ={"TRACKYARD_CONFIG": str(config)})
    with pytest.raises(ConfigValidationError) as info:
        reg.available_domains()
    assert str(info.value) == (
        f"{config} [plugins] trusted_paths entry '.' is relative; write an absolute folder "
        "(or one starting with ~), so that it never means the current folder"
    )


def test_relative_xdg_config_home_never_reads_the_current_folder(
    fake_site: Path, tmp_path: Path
) -> None:
    """XDG_CONFIG_HOME='.' is ignored, so ./trackyard/config.toml cannot trust the folder."""
    write_dist(fake_site, "evil-dist", "evil")
    planted = tmp_path / "trackyard" / "config.toml"
    planted.parent.mkdir()
    planted.write_text(f'[plugins]\ntrusted_paths = ["{fake_site}"]\n')
    reg = trackyard.Registry(environ={"XDG_CONFIG_HOME": ".", "HOME": str(tmp_path / "home")})
    status = {d.name: d.status for d in reg.available_domains()}
    assert status["evil"] == "untrusted"
