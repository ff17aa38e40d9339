"""A held store while a sweep merges, and listings while another process reads."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

import trackyard
from trackyard._store import lock_holder

from . import store_models
from .conftest import TRACKYARD, cli, db_runs, env, sweep_args


def test_a_run_whose_shard_cannot_be_merged_is_not_reported_done(project: Path) -> None:
    """With the store held while the driver merges, the sweep reports the run as kept only in
    its shard (not done) and keeps the shard; doctor --fix then merges it into the store."""
    (project / "pyproject.toml").write_text(
        '[tool.trackyard.domains.calibration]\nmodel = "store_models:holds_store"\n'
    )
    ws = project / "ws"
    trackyard.get_tracker("calibration", workspace=ws, model=store_models.calib)
    db = ws / "provenance.duckdb"
    configs = {"held": {"x": 1, "db": f"untracked:{db}", "hold": 12}}
    done = cli(project, *sweep_args(ws, configs, "processes"), TRACKYARD_LOCK_TIMEOUT="1")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["outcomes"] == {}
    (message,) = result["failures"].values()
    assert message.startswith("finished, but kept only in its shard ")
    assert message.endswith(f"the shard is kept. Merge it once this sweep has ended: run "
                            f"`trackyard doctor --fix --workspace {ws}`")  # fmt: skip
    assert db_runs(db) == {}
    assert list(ws.glob("shards/*/*/sweep_held-*.duckdb"))
    while lock_holder(db) is not None:
        time.sleep(0.2)
    trackyard.reconcile(ws)
    assert list(db_runs(db).values()) == ["completed"]
    assert not list(ws.glob("shards/*/*/sweep_held-*.duckdb"))
    assert trackyard.audit(ws).ok


def test_runs_listing_works_while_another_process_reads(tmp_path: Path) -> None:
    """`trackyard runs DOMAIN` lists the runs while another process holds a read-only
    connection to the store."""
    ws = tmp_path / "ws"
    t = trackyard.get_tracker("calibration", workspace=ws, model=store_models.calib)
    run_id = t.evaluate(run_name="only", config={"x": 1}).run_id
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
            "print('held', flush=True); sys.stdin.readline()",
            str(ws / "provenance.duckdb"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env(),
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "held"
        listed = cli(tmp_path, "runs", "calibration", "-w", str(ws), "--json")
    finally:
        reader.communicate("done\n", timeout=30)
    assert listed.returncode == 0, listed.stderr
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [run_id]


def _on_small_disk(project: Path, megabytes: int, *commands: list[str]) -> list[tuple[int, str]]:
    """Run the ``trackyard`` commands in one shell whose ``project/ws`` is a fresh tmpfs of
    ``megabytes`` (a private mount namespace: nothing outside sees it); each command's exit
    code and output (stdout and stderr)."""
    import re
    import shutil

    if (
        shutil.which("unshare") is None
        or subprocess.run(["unshare", "-rm", "true"], capture_output=True, check=False).returncode
    ):
        pytest.skip("needs `unshare -rm` (a private mount namespace) to mount a small tmpfs")
    ws = project / "ws"
    ws.mkdir()
    (project / "pyproject.toml").write_text(
        '[tool.trackyard.domains.calibration]\nmodel = "store_models:fill"\n'
    )
    steps = [f"mount -t tmpfs -o size={megabytes}m tmpfs {shlex.quote(str(ws))} || exit 9"]
    steps += [f"{shlex.join([str(TRACKYARD), *c])} 2>&1; echo exit=$?" for c in commands]
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "\n".join(steps)],
        cwd=project, env=env(), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    parts = re.split(r"^exit=(\d+)\n", done.stdout, flags=re.M)
    return [(int(code), text) for text, code in zip(parts[0::2], parts[1::2], strict=False)]


def _evaluate(ws: Path, name: str, size: int) -> list[str]:
    return ["run", "calibration", "evaluate", "-w", str(ws), "--set", f"run_name={name}",
            "--set", f'config={{"size": {size}}}']  # fmt: skip


LISTING = ["runs", "calibration", "--json", "-w"]


def test_a_full_disk_is_named_with_its_free_space_and_the_way_out(project: Path) -> None:
    """When the run folder's disk fills up during a run, `trackyard run` exits 1 with one line
    naming the folder that is full, its free space and what to do (not a bare OSError); the
    run recorded before stays readable."""
    ws = project / "ws"
    (small, _), (huge, message), (listed, rows) = _on_small_disk(
        project, 16, _evaluate(ws, "small", 10), _evaluate(ws, "huge", 20_000_000),
        [*LISTING, str(ws)],
    )  # fmt: skip
    assert (small, huge, listed) == (0, 1, 0), message
    assert message == (
        f"Error: no space left on device while running 'huge': {ws / 'runs'} has 0 B free; "
        "free space there, or point the workspace (TRACKYARD_WORKSPACE, or TRACKYARD_RUN_DIR "
        "and TRACKYARD_DB_PATH) at a larger disk; the run was not recorded as completed, so "
        "running it again executes it\n(run with --debug for the traceback)\n"
    )
    assert [(r["name"], r["status"]) for r in json.loads(rows)] == [("small", "completed")]


def test_a_store_that_filled_its_disk_is_reported_full_not_corrupt(project: Path) -> None:
    """When the store's disk filled while DuckDB grew the file, the next command says the disk
    is full and names the store (a DiskFullError), not that the store is corrupt."""
    ws = project / "ws"
    results = _on_small_disk(project, 4, _evaluate(ws, "small", 10), _evaluate(ws, "next", 10))
    (code, message) = results[1]
    assert code == 1
    assert message.startswith(
        f"Error: the store {ws / 'provenance.duckdb'} stopped growing mid-block because its "
        "disk is full ("
    ), message
    assert message.endswith(
        "free); free space there (or move the workspace to a larger disk), then check it "
        "with `trackyard doctor` (`--fix` rebuilds it from the run snapshots if it is "
        "damaged)\n(run with --debug for the traceback)\n"
    )
