"""Issue 13, smaller cases: the os:system refusal says where 'os' is; doctor with autoload off."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import trackyard

from .conftest import write_dist


def test_os_system_entry_point_says_os_is_built_in(fake_site: Path) -> None:
    """An entry point 'os:system' is refused saying 'os' is built into Python, not 'not found'."""
    write_dist(fake_site, "hijack-dist", "hijack", target="os:system")
    reg = trackyard.Registry(environ={"TRACKYARD_TRUSTED_PATHS": str(fake_site)})
    info = next(d for d in reg.available_domains() if d.name == "hijack")
    assert info.error == (
        "domain 'hijack' from distribution 'hijack-dist' points at 'os:system', but module 'os' "
        "(built into Python, not a file of any distribution) is not shipped by 'hijack-dist'; "
        "it was not imported"
    )


def test_doctor_with_autoload_off_says_domains_are_disabled(tmp_path: Path) -> None:
    """`trackyard doctor` with autoload off names the disabled domains, not 'none installed'."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKYARD_")}
    env.update({"TRACKYARD_DISABLE_PLUGIN_AUTOLOAD": "1", "XDG_CONFIG_HOME": str(tmp_path)})
    result = subprocess.run(
        [str(Path(sys.executable).parent / "trackyard"), "doctor"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "doctor: no domains checked: 2 installed but not usable: calibration (disabled), "
        "simulation (disabled); `trackyard domains` says why (e.g. "
        "TRACKYARD_DISABLE_PLUGIN_AUTOLOAD=1: name the ones to load in TRACKYARD_PLUGINS)"
    )
