"""A rejected `trackyard run` writes nothing: the workspace (store, schema file, lock, runs/)
is created only once the domain, verb, parameters, run name and config were accepted
(issue 24, item 13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .._console import run_trackyard, user_env

BASE = ["run", "calibration"]
CASES = {
    "unknown verb": (["evaluat"], "domain 'calibration' has no verb 'evaluat'"),
    "unknown parameter": (["evaluate", "--set", "colour=red"], "colour"),
    "missing run name": (["evaluate", "--set", "config={}"], "needs 'run_name'"),
    "bad run name": (
        ["evaluate", "--set", "run_name=../escape", "--set", "config={}"],
        "run name '../escape' may only hold",
    ),
    "config not a table": (["evaluate", "--set", "run_name=x", "--set", "config=[1]"], "config"),
    "deep config": (
        ["evaluate", "--set", "run_name=x", "--set", "config=" + "[" * 100 + "]" * 100],
        "nested deeper than",
    ),
    "NaN in config": (
        ["evaluate", "--set", "run_name=x", "--set", 'config={"a": NaN}'],
        "NaN",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_rejected_run_creates_no_workspace(tmp_path: Path, case: str) -> None:
    """Each bad call exits 1 with its message and leaves the folder empty."""
    args, message = CASES[case]
    proc = run_trackyard(*BASE, *args, "-w", "ws", cwd=tmp_path, env=user_env())
    assert proc.returncode == 1, proc.stdout
    assert message in proc.stderr.splitlines()[0], proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []
