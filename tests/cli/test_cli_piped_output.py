"""Issue 13, output for scripts: piped tables print every value in full, and listings have --json."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from .._console import run_trackyard, user_env

LONG = "acme-regional-council-transit-assignment-and-mode-choice-distribution"


def _site_with_long_dist(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    info = site / f"{LONG.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {LONG}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[trackyard.domains]\ntransit = acme_transit_13\n")
    (site / "acme_transit_13.py").write_text("raise SystemExit('never imported by listing')\n")
    (info / "RECORD").write_text(f"acme_transit_13.py,,\n{info.name}/METADATA,,\n")
    return site


def _piped(*args: str, site: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = user_env({"PYTHONPATH": str(site), "TRACKYARD_TRUSTED_PATHS": str(site), "NO_COLOR": "1"})
    env.pop("COLUMNS", None)  # a pipe: rich would otherwise assume 80 columns
    return run_trackyard(*args, cwd=cwd, env=env, timeout=120)


def test_piped_domains_table_prints_full_distribution_names(tmp_path: Path) -> None:
    """`trackyard domains | cat` shows a 70-character distribution name uncut."""
    site = _site_with_long_dist(tmp_path)
    result = _piped("domains", site=site, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert LONG in result.stdout
    assert "…" not in result.stdout


def test_domains_json_lists_the_long_distribution(tmp_path: Path) -> None:
    """`trackyard domains --json` gives the same rows for scripts."""
    site = _site_with_long_dist(tmp_path)
    result = _piped("domains", "--json", site=site, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {d["name"]: d["distribution"] for d in json.loads(result.stdout)}
    assert rows["transit"] == LONG
