"""`trackyard doctor --workspace/--fix`: audit and repair a store, compare plugin sets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb

Cli = Callable[..., subprocess.CompletedProcess[str]]

MODELS = """
import os, signal

def good(config):
    return {"score": float(config["x"])}

def killed(config):
    os.kill(os.getpid(), signal.SIGKILL)
"""

SCRIPT = """
import sys, trackyard
t = trackyard.get_tracker("simulation", workspace="ws", model="doctor_models:" + sys.argv[1],
                          outputs=())
t.run_model(name=sys.argv[2], config={"x": 1})
"""


def _run(tmp_path: Path, model: str, name: str) -> int:
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    env = {k: v for k, v in env.items() if not k.startswith("TRACKYARD_")}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, model, name], cwd=tmp_path, env=env, check=False
    ).returncode


def _workspace_report(stdout: str) -> dict[str, tuple[str, str]]:
    reports = json.loads(stdout)
    (store,) = [r for r in reports if r["domain"] == "workspace"]
    return {c["name"]: (c["status"], c["detail"]) for c in store["checks"]}


def test_doctor_finds_and_fixes_a_run_left_running_by_kill_9(cli: Cli, tmp_path: Path) -> None:
    """A kill -9 mid-run fails doctor's audit; --fix marks it interrupted and doctor passes."""
    (tmp_path / "doctor_models.py").write_text(MODELS)
    assert _run(tmp_path, "good", "fine") == 0
    assert _run(tmp_path, "killed", "dies") == -9
    ws = str(tmp_path / "ws")

    first = cli("doctor", "simulation", "--workspace", ws, "--json")
    assert first.returncode == 1, first.stderr
    checks = _workspace_report(first.stdout)
    assert checks["store audit"][0] == "FAIL"
    assert "left 'running' by a process that is gone" in checks["store audit"][1]
    assert "trackyard doctor --fix" in checks["store audit"][1]
    assert checks["plugin set"][0] == "ok"

    # --store-only: the same workspace report without the domain checks (tested just above).
    fixed = cli("doctor", "--store-only", "--workspace", ws, "--fix", "--json")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    checks = _workspace_report(fixed.stdout)
    assert checks["reconcile"][0] == "ok"
    assert "marked interrupted: dies_" in checks["reconcile"][1]
    assert checks["store audit"] == ("ok", "audit: snapshots and DB agree")

    again = cli("doctor", "--store-only", "--workspace", ws, "--fix", "--json")
    assert _workspace_report(again.stdout)["reconcile"] == ("ok", "reconcile: nothing to do")


def test_doctor_warns_when_runs_used_another_plugin_set(cli: Cli, tmp_path: Path) -> None:
    """Runs recorded under a different plugin set are reported (a warning, not a failure)."""
    (tmp_path / "doctor_models.py").write_text(MODELS)
    assert _run(tmp_path, "good", "old") == 0
    db = tmp_path / "ws" / "provenance.duckdb"
    with duckdb.connect(str(db)) as con:  # as if recorded before a plugin upgrade
        con.execute(
            "UPDATE run SET meta = json_merge_patch(meta, "
            '\'{"trackyard": {"plugin_set": "0123456789abcdef"}}\')'
        )
    result = cli("doctor", "simulation", "--workspace", str(tmp_path / "ws"), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    status, detail = _workspace_report(result.stdout)["plugin set"]
    assert status == "warn"
    assert "runs were recorded with other plugin sets: 0123456789ab (1 runs)" in detail
    assert "trackyard install -r LOCK" in detail


def test_store_only_audits_the_store_without_checking_domains(cli: Cli, tmp_path: Path) -> None:
    """`doctor --store-only` prints the workspace's report alone (no domain is checked) and
    fails with its exit code; it refuses a domain name, and a workspace without a store."""
    (tmp_path / "doctor_models.py").write_text(MODELS)
    assert _run(tmp_path, "killed", "dies") == -9
    ws = str(tmp_path / "ws")
    audit = cli("doctor", "--store-only", "--workspace", ws, "--json")
    assert audit.returncode == 1, audit.stdout + audit.stderr
    assert [r["domain"] for r in json.loads(audit.stdout)] == ["workspace"]
    assert _workspace_report(audit.stdout)["store audit"][0] == "FAIL"
    plain = cli("doctor", "--store-only", "--workspace", ws, "--fix")
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "simulation" not in plain.stdout
    assert plain.stdout.rstrip().endswith("doctor: 1 report(s) OK")

    named = cli("doctor", "simulation", "--store-only", "--workspace", ws)
    assert named.returncode == 2
    assert (
        "Invalid value for --store-only: it checks no domain: drop 'simulation', or drop "
        "--store-only to check 'simulation'"
    ) in named.stderr
    empty = cli("doctor", "--store-only", "--workspace", str(tmp_path / "empty"))
    assert empty.returncode == 2
    assert f"Invalid value for --store-only: {tmp_path / 'empty'} holds no store to audit" in (
        empty.stderr
    )
