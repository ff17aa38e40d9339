"""Bad input, phantom outputs, interrupts and crashes: nothing recorded is ever lost."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import trackyard
from trackyard.errors import ConfigValidationError, OutputMissingError

from . import trust_models

HERE = Path(__file__).parent


def _tracker(ws: Path) -> trackyard.DomainTracker:
    return trackyard.get_tracker("simulation", workspace=ws, model=trust_models.good)


def _snapshots(ws: Path) -> list[dict[str, Any]]:
    folder = ws / "runs" / "consist_runs"
    return [json.loads(p.read_text())["run"] for p in sorted(folder.glob("*.json"))]


def _script(tmp_path: Path, body: str, env: dict[str, str] | None = None, check: bool = True):
    """Run ``body`` in a fresh interpreter that can import trust_models."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(body))
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKYARD_")}
    full_env["PYTHONPATH"] = str(HERE)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> trackyard.DomainTracker:
    return _tracker(tmp_path_factory.mktemp("shared") / "ws")


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"a": object()}, r"config value at config\.a is a object"),
        ({"a": b"x"}, r"config value at config\.a is a bytes"),
        ({"a": {1, 2}}, r"config value at config\.a is a set"),
        ({1: "x"}, r"config key 1 at config is int; keys must be strings"),
        ({"a": math.nan}, r"config value at config\.a is nan; NaN and infinity are rejected"),
        ({"a": [math.inf]}, r"config value at config\.a\[0\] is inf"),
        ({"a": {"b": [0] * 1_000_001}}, r"config is \d+ bytes as JSON; the limit is 1000000"),
    ],
)
def test_bad_configs_are_refused_before_writing(
    shared: trackyard.DomainTracker, config: Any, match: str
) -> None:
    """A config that is not plain finite JSON raises ConfigValidationError and records nothing."""
    before = len(_snapshots(shared.workspace))
    with pytest.raises(ConfigValidationError, match=match):
        shared.run(trust_models.good, name="bad", config=config)
    assert len(_snapshots(shared.workspace)) == before


def test_overdeep_config_is_refused(shared: trackyard.DomainTracker) -> None:
    """A config nested 40 levels deep is refused naming the limit."""
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(40):
        node["n"] = {}
        node = node["n"]
    with pytest.raises(ConfigValidationError, match="nested deeper than 32 levels"):
        shared.run(trust_models.good, name="deep", config=deep)


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("", "must be a non-empty string"),
        ("../escape", "may only hold letters"),
        ("a/b", "may only hold letters"),
        ("/abs", "may only hold letters"),
        ("x" * 121, "is 121 characters; the limit is 120"),
    ],
)
def test_bad_run_names_are_refused(shared: trackyard.DomainTracker, name: str, match: str) -> None:
    """Run names that are empty, too long or escape the workspace are refused before writing."""
    before = len(_snapshots(shared.workspace))
    with pytest.raises(ConfigValidationError, match=match):
        shared.run(trust_models.good, name=name, config={})
    assert len(_snapshots(shared.workspace)) == before


def test_missing_input_file_is_refused(shared: trackyard.DomainTracker, tmp_path: Path) -> None:
    """A missing input file is named in a ConfigValidationError before any run is recorded."""
    with pytest.raises(ConfigValidationError, match=r"input 'data' of run 'in' does not exist"):
        shared.run(trust_models.good, name="in", inputs={"data": tmp_path / "nope.csv"})


def test_workspace_file_and_db_folder_are_refused(tmp_path: Path) -> None:
    """A workspace that is a file, or a DB path that is a folder, is refused up front."""
    (tmp_path / "ws").write_text("not a folder")
    with pytest.raises(ConfigValidationError, match=r"workspace .*ws is a file"):
        trackyard.get_tracker("simulation", workspace=tmp_path / "ws")
    (tmp_path / "db").mkdir()
    with pytest.raises(ConfigValidationError, match=r"db_path .*db is a folder"):
        trackyard.get_tracker("simulation", workspace=tmp_path / "w2", db_path=tmp_path / "db")


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (trust_models.phantom, r"returned output 'results' = .*never-written\.txt.*does not exist"),
        (trust_models.undeclared, r"did not produce declared output\(s\) \['results'\]"),
    ],
)
def test_missing_outputs_fail_the_run(
    shared: trackyard.DomainTracker, model: Any, match: str
) -> None:
    """A phantom or missing output makes the run 'failed' (never a cached 'completed')."""
    name = model.__name__
    for _ in range(2):  # the retry executes again: a failed run is never a cache hit
        with pytest.raises(OutputMissingError, match=match):
            shared.run(model, name=name, config={"m": name})
    runs = [r for r in _snapshots(shared.workspace) if r["meta"]["trackyard"]["run_name"] == name]
    assert [r["status"] for r in runs] == ["failed", "failed"]
    assert trackyard.audit(shared.workspace).ok


def test_model_from_python_c_gets_an_explanation(tmp_path: Path) -> None:
    """A model defined in `python -c` is refused, explaining code identity and the fix."""
    code = (
        "import trackyard\n"
        "def m(config):\n    return {'score': 1.0}\n"
        "t = trackyard.get_tracker('simulation', workspace='ws', model=m)\n"
        "try:\n    t.run_model(name='x', config={})\n"
        "except trackyard.errors.ConfigValidationError as e:\n    print('ERR', e)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKYARD_")}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert "ERR model 'm' was defined in '<string>'" in proc.stdout, proc.stderr[-1500:]
    assert "Move the function into a .py module" in proc.stdout
    assert _snapshots(tmp_path / "ws") == []


@pytest.mark.parametrize("how", ["keyboard", "exit"])
def test_interrupt_leaves_tracker_usable_and_rerun_executes(
    shared: trackyard.DomainTracker, how: str
) -> None:
    """After KeyboardInterrupt/SystemExit in a model the run is failed+interrupted, the tracker
    keeps working, and the same config executes again (not served from cache)."""
    config = {"how": how}
    with pytest.raises((KeyboardInterrupt, SystemExit)):
        shared.run(trust_models.interrupt, name=f"int-{how}", config=config)
    run = [
        r
        for r in _snapshots(shared.workspace)
        if r["meta"]["trackyard"]["run_name"] == f"int-{how}"
    ]
    assert run[0]["status"] == "failed"
    assert run[0]["meta"]["trackyard"]["interrupted"] in {"KeyboardInterrupt", "SystemExit"}
    outcome = shared.run(trust_models.good, name=f"after-{how}", config={"x": 1, "how": how})
    assert outcome.status == "completed" and not outcome.cache_hit
    assert trackyard.audit(shared.workspace).ok


def test_kill_9_sweep_is_reconciled_and_resumed(tmp_path: Path) -> None:
    """A sweep killed by kill -9 leaves a stale run; reconcile marks it (idempotently), audit is
    clean, and re-running the sweep executes only the unfinished configs."""
    sweep = """
        import sys, trackyard, trust_models
        t = trackyard.get_tracker("simulation", workspace="ws", model=trust_models.crash)
        crash = len(sys.argv) < 2
        for i in range(3):
            o = t.run_model(name=f"c{i}", config={"x": i, "crash": crash and i == 1})
            print(o.run_id, o.cache_hit)
    """
    first = _script(tmp_path, sweep, check=False)
    assert first.returncode == -9
    ws = tmp_path / "ws"
    assert trackyard.audit(ws).stale_running  # the killed run is detected
    report = trackyard.reconcile(ws)
    assert len(report.marked_interrupted) == 1 and report.changed
    assert not trackyard.reconcile(ws).changed  # idempotent
    assert trackyard.audit(ws).ok
    statuses = sorted(r["status"] for r in _snapshots(ws))
    assert statuses == ["completed", "failed"]

    script = tmp_path / "script.py"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKYARD_")}
    env["PYTHONPATH"] = str(HERE)
    second = subprocess.run(
        [sys.executable, str(script), "resume"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 0, second.stderr[-1500:]
    hits = [line.split()[1] for line in second.stdout.splitlines()]
    assert hits == ["True", "False", "False"]  # only c1 (interrupted) and c2 executed
    assert trackyard.audit(ws).ok
    assert len(_snapshots(ws)) == 5


def test_run_records_plugin_set_fingerprint(shared: trackyard.DomainTracker) -> None:
    """Every run's metadata carries the fingerprint trackyard.plugin_set_fingerprint() gives."""
    outcome = shared.run(trust_models.good, name="fp", config={"fp": 1})
    meta = shared.consist.get_run(outcome.run_id).meta
    assert meta["trackyard"]["plugin_set"] == trackyard.plugin_set_fingerprint()
