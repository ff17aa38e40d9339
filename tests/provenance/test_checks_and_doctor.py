"""The checks that catch a naive plugin, doctor's scratch store, and the output audit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

import trackyard
from trackyard.errors import ConfigValidationError
from trackyard.testing import DomainConformance

from .._console import PLAIN_TERMINAL, run_trackyard, user_env


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Any:
    environ = user_env(
        {**PLAIN_TERMINAL, "COLUMNS": "250", **(env or {})}, keep=["TRACKYARD_TRUSTED_PATHS"]
    )
    return run_trackyard(*args, cwd=cwd, env=environ, timeout=600)


def test_doctor_never_writes_into_the_configured_store(ws: Path) -> None:
    """With TRACKYARD_DB_PATH and TRACKYARD_RUN_DIR set, doctor's check runs go to a scratch
    store: the user's store is never created, and a later sweep there runs for real."""
    user = ws.parent / "user"
    user.mkdir()
    env = {"TRACKYARD_DB_PATH": str(user / "user.duckdb"), "TRACKYARD_RUN_DIR": str(user / "runs")}
    done = _cli("doctor", "trap", cwd=ws.parent, env=env)
    assert "verb score" in done.stdout, done.stdout + done.stderr
    assert not (user / "user.duckdb").exists()
    assert not (user / "runs").exists()


def test_doctor_fails_a_naive_verb_with_how_to_fix_it(ws: Path) -> None:
    """A verb that passes its input file as a string in the config fails doctor, and the
    message says how to declare the file; verbs that declare their input pass."""
    done = _cli("doctor", "trap", cwd=ws.parent)
    assert done.returncode == 1
    text = " ".join(done.stdout.replace("│", " ").split())
    assert (
        "verb naive FAIL ConfigValidationError: config value 'data' of run 'd-naive' names the "
        "existing file"
    ) in text, done.stdout
    assert "pass it as inputs={'data': path} or as a pathlib.Path in the config" in text
    assert "verb score: an edited input file runs again ok" in text
    assert "verb sweep: repeat is a cache hit ok" in text
    assert "doctor: problems in trap" in done.stdout


def test_conformance_kit_fails_a_naive_verb_with_how_to_fix_it(
    ws: Path, tmp_path: Path, trap_site: Path
) -> None:
    """The kit's input check fails a verb that passes its file as a config string, saying how
    to declare it."""
    data = str(trap_site / "trapmodels" / "data.txt")

    class TestNaive(DomainConformance):
        domain = "trap"
        verbs: ClassVar[dict[str, dict[str, Any]]] = {
            "naive": {"name": "n", "config": {"x": 1, "data": data}}
        }

    with pytest.raises(ConfigValidationError) as caught:
        TestNaive().test_changing_an_input_file_runs_again(tmp_path / "kit")
    assert "pass it as inputs={'data': path} or as a pathlib.Path" in str(caught.value)


def test_conformance_kit_passes_a_verb_that_declares_its_input(
    ws: Path, tmp_path: Path, trap_site: Path
) -> None:
    """The same model behind a verb that declares its file passes the kit's provenance checks,
    and the kit and doctor agree on a run_many sweep verb."""
    data = trap_site / "trapmodels" / "data.txt"

    class TestDeclared(DomainConformance):
        domain = "trap"
        verbs: ClassVar[dict[str, dict[str, Any]]] = {
            "sweep": {"items": [("k-sweep", {"x": 3})]},
            "score": {"name": "s", "config": {"x": 1}, "inputs": {"data": data}},
        }

    suite = TestDeclared()
    suite.test_changing_an_input_file_runs_again(tmp_path / "a")
    suite.test_repeating_a_verb_is_a_cache_hit(tmp_path / "b")
    suite.test_model_error_surfaces_and_fails_the_run(tmp_path / "c")
    assert data.read_text(encoding="utf-8") == "shipped"


def test_doctor_workspace_reports_and_fixes_runs_whose_outputs_are_gone(ws: Path) -> None:
    """A run whose output folder was deleted: the audit fails naming it; --fix marks it failed,
    and the audit then passes."""
    trap = trackyard.get_tracker("trap", workspace=ws)
    kept = trap.score(name="kept", config={"x": 1})
    gone = trap.score(name="gone", config={"x": 2})
    gone_path = gone.output("table")
    import shutil

    shutil.rmtree(gone_path.parent)
    del trap
    audit = _cli("doctor", "--store-only", "--workspace", str(ws), cwd=ws.parent)
    assert audit.returncode == 1
    assert f"run {gone.run_id}: output 'table' ({gone_path}) is missing" in audit.stdout
    assert kept.run_id not in audit.stdout
    fixed = _cli("doctor", "--store-only", "--workspace", str(ws), "--fix", cwd=ws.parent)
    assert "(marked: never served again)" in fixed.stdout
    again = _cli("doctor", "--store-only", "--workspace", str(ws), cwd=ws.parent)
    assert "2 completed runs" not in again.stdout
    assert "all 1 completed runs have their recorded files" in again.stdout
    snapshot = next((ws / "runs" / "consist_runs").glob(f"{gone.run_id}.json"))
    recorded = json.loads(snapshot.read_text())["run"]
    assert recorded["status"] == "failed"
    assert "is missing" in recorded["meta"]["trackyard"]["invalidated"]
