"""The metrics index is kept in step where runs arrive, and a store that cannot be written
(a results folder mounted read-only for colleagues) still ranks and refuses runs clearly.

The read-only view is real: the workspace bind-mounted read-only in a private mount namespace
(``unshare -rm``), the command run inside it as a subprocess.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import trackyard

MODEL = "many_models_helper:model"
TRACKYARD = str(Path(sys.executable).with_name("trackyard"))


def _tracker(workspace: Path) -> Any:
    return trackyard.get_tracker("calibration", workspace=workspace, model=MODEL)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _store_files(ws: Path) -> dict[str, str]:
    return {p.name: _digest(p) for p in ws.glob("provenance.duckdb*") if p.is_file()}


def _read_only(ws: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``argv`` run with ``ws`` bind-mounted read-only (a private mount namespace)."""
    if (
        shutil.which("unshare") is None
        or subprocess.run(["unshare", "-rm", "true"], capture_output=True, check=False).returncode
    ):
        pytest.skip("needs `unshare -rm` (a private mount namespace) to mount a folder read-only")
    mount = f"mount --bind {ws} {ws} && mount -o remount,bind,ro {ws}"
    env = {**os.environ, "TRACKYARD_LOCK_TIMEOUT": "5"}
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"{mount} && exec {shlex.join(argv)}"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def _top(ws: Path, metric: str = "mode_share_error", k: int = 3) -> list[str]:
    done = _read_only(
        ws, TRACKYARD, "runs", "calibration", "--top", metric, "--k", str(k), "-w", str(ws),
        "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [row["name"] for row in json.loads(done.stdout)]


def test_the_first_ranking_after_a_processes_sweep_writes_nothing(
    models_on_path: Path, configs: dict[str, Any]
) -> None:
    """The sweep's merges index the runs they bring: the first ranking after it only reads
    (the store's files are byte for byte unchanged), even on a read-only mount."""
    ws = models_on_path / "p"
    cal = _tracker(ws)
    cal.sweep({"low": configs["low"]})
    assert [r.name for r in cal.query_top_k(k=1)] == ["sweep_low"]  # the index exists
    cal.sweep(configs, executor="processes", max_workers=2)
    before = _store_files(ws)
    assert _top(ws) == ["sweep_top", "sweep_mid", "sweep_low"]
    assert [r.name for r in cal.query_top_k(k=2)] == ["sweep_top", "sweep_mid"]
    assert _store_files(ws) == before


def test_a_store_first_ranked_after_a_processes_sweep_got_its_index_from_the_merge(
    models_on_path: Path, configs: dict[str, Any]
) -> None:
    """A store never ranked before gains the index with its first sweep's merge, holding
    every finished run (serial runs recorded before included)."""
    ws = models_on_path / "n"
    cal = _tracker(ws)
    cal.sweep({"low": configs["low"]})  # serial: no index yet
    cal.sweep({k: v for k, v in configs.items() if k != "low"}, executor="processes",
              max_workers=2)  # fmt: skip
    before = _store_files(ws)
    # "bad" fails (a negative coefficient): a failed run is not ranked
    assert _top(ws, k=5) == ["sweep_top", "sweep_mid", "sweep_low", "sweep_high"]
    assert [r.name for r in cal.query_top_k(k=1)] == ["sweep_top"]
    assert _store_files(ws) == before


def test_a_read_only_store_whose_index_lags_still_ranks_and_names_metrics(
    models_on_path: Path, configs: dict[str, Any]
) -> None:
    """Serial runs after the last ranking leave the index behind; on a read-only mount the
    ranking reads the runs themselves (no wait, no "locked" claim), and a misspelt metric
    still gets the recorded names."""
    ws = models_on_path / "r"
    cal = _tracker(ws)
    cal.sweep({"low": configs["low"], "high": configs["high"]})
    assert [r.name for r in cal.query_top_k(k=1)] == ["sweep_low"]
    cal.sweep({"top": configs["top"], "mid": configs["mid"]})  # not indexed yet
    before = _store_files(ws)
    assert _top(ws) == ["sweep_top", "sweep_mid", "sweep_low"]
    typo = _read_only(
        ws, TRACKYARD, "runs", "calibration", "--top", "mode_share_eror", "-w", str(ws)
    )
    assert typo.returncode == 1, typo.stderr
    assert "no run of domain 'calibration' has metric 'mode_share_eror'" in typo.stderr
    assert "Did you mean 'mode_share_error'?" in typo.stderr
    assert _store_files(ws) == before
    assert [r.name for r in cal.query_top_k(k=2)] == ["sweep_top", "sweep_mid"]  # writable


def test_a_run_on_a_read_only_store_is_refused_at_once_naming_it(
    models_on_path: Path, configs: dict[str, Any]
) -> None:
    """Running against a read-only mount raises StoreReadOnlyError naming the store before
    anything is written, for a single run and a batch; nothing was recorded."""
    ws = models_on_path / "w"
    cal = _tracker(ws)
    cal.sweep({"low": configs["low"]})
    script = (
        "import trackyard\n"
        f"cal = trackyard.get_tracker('calibration', workspace={str(ws)!r}, model={MODEL!r})\n"
        "print(cal.top_k('mode_share_error', k=1)[0].name)\n"
        "for call in (lambda: cal.sweep({'mid': {'coeff': 0.45, 'label': 'mid'}}),\n"
        "             lambda: cal.evaluate(run_name='x', config={'coeff': 0.3, 'label': 'x'})):\n"
        "    try:\n"
        "        call()\n"
        "    except trackyard.errors.StoreReadOnlyError as exc:\n"
        "        print(type(exc).__name__, exc)\n"
    )
    before = _store_files(ws)
    done = _read_only(ws, sys.executable, "-c", script)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "sweep_low"  # reading works
    assert len(lines) == 3
    for line in lines[1:]:
        assert line.startswith(
            f"StoreReadOnlyError cannot record a run: {ws / 'provenance.duckdb'} cannot be "
            "written (Read-only file system)"
        ), line
        assert "give write access or use a writable copy of the workspace" in line
    assert _store_files(ws) == before
    assert [r.name for r in cal.query_top_k(k=5)] == ["sweep_low"]


def test_a_damaged_index_never_costs_a_sweep_its_runs(
    models_on_path: Path, configs: dict[str, Any]
) -> None:
    """When the index cannot take a merge's runs (its table damaged by hand), the merge still
    lands every run; reconcile rebuilds the index and the ranking is right again."""
    import duckdb

    ws = models_on_path / "d"
    cal = _tracker(ws)
    cal.sweep({"low": configs["low"]})
    cal.query_top_k(k=1)
    with duckdb.connect(str(cal.settings.db_path)) as con:
        con.execute("CREATE OR REPLACE TABLE trackyard_metric (broken INTEGER)")
    result = cal.sweep(configs, executor="processes", max_workers=2)
    assert not list((ws / "shards").glob("*/*.duckdb"))  # every shard merged and removed
    with duckdb.connect(str(cal.settings.db_path), read_only=True) as con:
        names = {
            r[0]
            for r in con.execute(
                "SELECT json_extract_string(meta, '$.trackyard.run_name') FROM run "
                "WHERE status = 'completed'"
            ).fetchall()
        }
    assert names == {"sweep_low", "sweep_mid", "sweep_high", "sweep_top"}
    assert (result.ran, result.cached, result.failed) == (3, 1, 1)  # bad fails, low cached
    trackyard.reconcile(ws)
    assert [r.name for r in cal.query_top_k(k=2)] == ["sweep_top", "sweep_mid"]


def test_a_shard_holding_an_index_of_its_own_adds_only_the_main_stores_index_rows(
    models_on_path: Path, configs: dict[str, Any]
) -> None:
    """A shard that is a copy of another ranked store (index tables included) is merged
    without its index rows: the main store indexes the runs itself, so the first ranking
    after the merge finds the index current and writes nothing."""
    from trackyard import _metrics_index
    from trackyard._consist.merge import Merger
    from trackyard._store import Store

    other = _tracker(models_on_path / "other")
    other.sweep({"top": configs["top"], "high": configs["high"]})
    assert [r.name for r in other.query_top_k(k=1)] == ["sweep_top"]  # other's index exists
    ws = models_on_path / "main"
    cal = _tracker(ws)
    cal.sweep({"low": configs["low"]})
    assert [r.name for r in cal.query_top_k(k=1)] == ["sweep_low"]
    shard = models_on_path / "shard.duckdb"
    shutil.copy(other.settings.db_path, shard)
    assert Merger(Store.of(cal.settings), _metrics_index.index_merged).merge(shard)
    before = _store_files(ws)
    assert [r.name for r in cal.query_top_k(k=3)] == ["sweep_top", "sweep_low", "sweep_high"]
    assert _store_files(ws) == before
