"""``trackyard doctor`` and ``DomainConformance`` run one list of checks, so they cannot drift."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from trackyard.cli._doctor import doctor_steps
from trackyard.testing import DomainConformance
from trackyard.testing._catalog import CHECKS

from .._console import run_trackyard
from .._scaffold_site import installed_scaffold


def test_the_kit_runs_every_check_of_the_list_and_no_other() -> None:
    """Each check of the catalog is one DomainConformance test, and the kit has no test the
    catalog does not list."""
    kit_tests = {name for name in dir(DomainConformance) if name.startswith("test_")}
    assert kit_tests == {check.kit_test for check in CHECKS}


def test_doctor_runs_every_check_of_the_list_and_no_other() -> None:
    """Doctor has one step per catalog check, and none the catalog does not list."""
    assert doctor_steps() == {check.key for check in CHECKS}


def _doctor(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_trackyard("doctor", "epidemic", "--json", cwd=tmp_path, env=env, timeout=300)


def test_doctor_fails_a_plugin_whose_report_sections_raise(tmp_path: Path) -> None:
    """The report-section check the kit runs is a doctor row too: a raising report_sections
    makes `trackyard doctor epidemic` exit 1 naming the plugin and the error."""
    env = installed_scaffold(tmp_path, "    raise KeyError('no such column: rmse')")
    result = _doctor(tmp_path, env)
    assert result.returncode == 1, result.stdout + result.stderr
    (report,) = json.loads(result.stdout)
    rows = {c["name"]: c for c in report["checks"]}
    assert rows["report sections render"]["status"] == "FAIL"
    assert "trackyard-epidemic" in rows["report sections render"]["detail"]
    assert "no such column: rmse" in rows["report sections render"]["detail"]


def test_doctor_prints_a_row_for_every_check_of_the_list(tmp_path: Path) -> None:
    """A conforming plugin gets an ok row for every catalog check (per-verb ones per verb)."""
    env = installed_scaffold(tmp_path, "    return None")
    result = _doctor(tmp_path, env)
    assert result.returncode == 0, result.stdout + result.stderr
    (report,) = json.loads(result.stdout)
    rows = {c["name"]: c["status"] for c in report["checks"]}
    for check in CHECKS:
        verbs = ("run_once", "run_from", "sweep") + (() if check.per_verb else ("",))
        shown = {check.doctor_row.format(verb=v) for v in verbs} & set(rows)
        assert shown, f"doctor printed no row for {check.key!r}: {sorted(rows)}"
        assert {rows[row] for row in shown} == {"ok"}, (check.key, rows)


def test_doctor_names_the_import_chain_of_a_heavy_plugin_module(tmp_path: Path) -> None:
    """A plugin module that imports its model (and so consist) at the top fails the light-import
    check, naming the chain from the entry point to consist."""
    env = installed_scaffold(tmp_path)
    plugin = tmp_path / "site" / "trackyard_epidemic" / "plugin.py"
    text = plugin.read_text().replace(
        "from __future__ import annotations\n",
        "from __future__ import annotations\n\nimport trackyard_epidemic.model\n",
    )
    plugin.write_text(text)
    result = _doctor(tmp_path, env)
    assert result.returncode == 1, result.stdout + result.stderr
    (report,) = json.loads(result.stdout)
    row = {c["name"]: c for c in report["checks"]}["plugin module imports light"]
    assert row["status"] == "FAIL"
    assert (
        "imports consist" in row["detail"]
        and "trackyard_epidemic.plugin -> trackyard_epidemic.model -> consist. Keep the "
        "plugin module light"
        in row["detail"]
    ), row["detail"]
