"""``trackyard doctor``: every installed plugin checked, broken ones reported with exit 1."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trackyard import DomainTracker, Wiring
from trackyard.cli._doctor import check_domain
from trackyard.errors import ConfigValidationError
from trackyard.testing import PluginSandbox

Cli = Callable[..., subprocess.CompletedProcess[str]]


def _broken_distribution(site: Path) -> None:
    """A fake installed distribution whose plugin module raises on import."""
    info = site / "trackyard_broken-0.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: trackyard-broken\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text("[trackyard.domains]\nbroken = trackyard_broken_mod\n")
    (site / "trackyard_broken_mod.py").write_text("raise ImportError('missing libfoo')\n")
    # It ships its module (RECORD) from a trusted folder, so the plugin policy lets it load.
    (info / "RECORD").write_text(f"trackyard_broken_mod.py,,\n{info.name}/METADATA,,\n")


def test_doctor_passes_a_conforming_plugin(cli: Cli, tmp_path: Path) -> None:
    """`doctor calibration` runs every check in a temporary workspace and exits 0."""
    result = cli("doctor", "calibration", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    (report,) = json.loads(result.stdout)
    checks = {c["name"]: c["status"] for c in report["checks"]}
    assert report["ok"] is True
    assert checks["loads and builds"] == "ok"
    assert checks["verb evaluate: repeat is a cache hit"] == "ok"
    assert checks["verb evaluate: metrics rankable"] == "ok"
    assert checks["verb evaluate: model error fails the run"] == "ok"
    # The many-run verbs run with the tracker's declared examples.
    assert checks["verb sweep: repeat is a cache hit"] == "ok"
    assert checks["verb calibrate: metrics rankable"] == "ok"
    assert not (tmp_path / ".trackyard").exists()


def test_doctor_reports_a_broken_plugin_and_exits_non_zero(cli: Cli, tmp_path: Path) -> None:
    """A plugin whose import fails makes doctor print a readable FAIL line and exit 1."""
    site = tmp_path / "site"
    _broken_distribution(site)
    env = {"PYTHONPATH": str(site), "TRACKYARD_TRUSTED_PATHS": str(site)}
    result = cli("doctor", "broken", env=env)
    assert result.returncode == 1
    assert "broken (trackyard-broken)" in result.stdout
    assert "FAIL" in result.stdout
    assert "ImportError: missing libfoo" in result.stdout
    assert "doctor: problems in broken" in result.stdout
    unknown = cli("doctor", "nothing")
    assert unknown.returncode == 1
    assert "no domain named 'nothing' is installed" in unknown.stderr


class _PickyTracker(DomainTracker):
    """Refuses empty configs with a clear error, as a well-behaved verb should."""

    wiring = Wiring(model="picky", outputs=("out",))

    def needs_config(self, *, config: dict[str, Any]) -> None:
        """Refuses an empty config."""
        if not config:
            raise ConfigValidationError("config must not be empty")

    def crashes(self, *, label: str) -> None:
        """Crashes with a bug, whatever the arguments."""
        raise ZeroDivisionError("division by zero")


def test_doctor_skips_clean_refusals_and_fails_crashes(tmp_path: Path) -> None:
    """Invented arguments refused with a TrackyardError are skipped; a crash is a failure."""
    sandbox = PluginSandbox()
    sandbox.add("picky", _PickyTracker)
    report = check_domain(sandbox.registry, "picky", "inprocess-picky")
    results = {c.name: (c.status, c.detail) for c in report.checks}
    assert results["verb needs_config"][0] == "skip"
    assert (
        "rejected invented arguments (config must not be empty)" in results["verb needs_config"][1]
    )
    assert results["verb crashes"] == ("FAIL", "ZeroDivisionError: division by zero")
    assert report.ok is False


def test_doctor_reports_an_untrusted_plugin_without_importing_it(cli: Cli, tmp_path: Path) -> None:
    """A plugin the policy refuses is a FAIL line with the reason, and its code never runs."""
    site = tmp_path / "site"
    _broken_distribution(site)
    marker = tmp_path / "imported"
    (site / "trackyard_broken_mod.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    result = cli("doctor", "broken", env={"PYTHONPATH": str(site)})
    assert result.returncode == 1
    assert "untrusted" in result.stdout and "FAIL" in result.stdout
    assert not marker.exists()
