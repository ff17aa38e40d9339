"""The provenance traps: no cache hit ever serves another run's data, a stale input, or a file
that is gone, on the serial, process and Dask executors."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

import trackyard
from trackyard.errors import ConfigValidationError, StaleCodeError, StaleOutputError

EXECUTORS = ["serial", "processes", "dask"]


def _trap(ws: Path) -> Any:
    return trackyard.get_tracker("trap", workspace=ws)


def _executor(name: str, request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("dask_client") if name == "dask" else name


def _in_run_folder(tracker: Any, outcome: Any, key: str = "table") -> bool:
    source = outcome.cache_source or outcome.run_id
    return f"/{source}/" in str(outcome.output(key)) and str(outcome.output(key)).startswith(
        str(tracker.settings.run_dir)
    )


def test_shared_output_folder_hit_returns_its_own_data(ws: Path) -> None:
    """Run A then B into one folder the caller chose, then A again: the hit is A's data, in A's
    own run folder, not B's file in the shared folder."""
    trap = _trap(ws)
    shared = ws.parent / "shared"
    a = trap.into(name="a", config={"x": 1}, output_dir=str(shared))
    trap.into(name="b", config={"x": 2}, output_dir=str(shared))
    again = trap.into(name="a2", config={"x": 1}, output_dir=str(shared))
    assert again.cache_hit and again.cache_source == a.run_id
    assert again.output("table").read_text() == "x\n1\n"
    assert _in_run_folder(trap, again)
    assert again.metrics == {"x": 1.0}


def test_config_named_output_folder_is_copied_into_each_serial_run(ws: Path) -> None:
    """A model writing into the folder its config names: every serial run keeps its own copy,
    and the sweep repeated serves each config its own data from its own run folder."""
    trap = _trap(ws)
    folder = ws.parent / "shared"
    items = [(f"r{x}", {"x": x, "folder": str(folder / "out")}) for x in (1, 2)]
    first = trap.sweep(items)
    assert first.ran == 2, first.failures
    again = trap.sweep([(f"s{c['x']}", c) for _, c in items])
    assert again.cached == 2
    for x in (1, 2):
        hit = again.outcomes[f"s{x}"]
        assert hit.output("table").read_text() == f"{x}|"
        assert _in_run_folder(trap, hit)


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_output_written_outside_the_run_folder_is_refused_in_a_parallel_sweep(
    ws: Path, executor: str, request: pytest.FixtureRequest
) -> None:
    """On a parallel executor two runs writing one shared folder could keep each other's file:
    each such run fails with OutputLocationError saying where to write, nothing is cached, and
    the same configs then run serially keep their own data."""
    trap = _trap(ws)
    folder = ws.parent / "shared" / "out"
    items = [(f"r{x}", {"x": x, "folder": str(folder)}) for x in (1, 2)]
    parallel = trap.sweep(items, executor=_executor(executor, request))
    assert (parallel.ran, parallel.cached, parallel.outcomes) == (0, 0, {})
    assert parallel.failures == {
        name: (
            f"OutputLocationError: model 'score' returned output 'table' at "
            f"{str(folder / 'table.csv')!r}, outside its run folder, in a {executor!r} sweep: "
            "another run of the sweep may overwrite that file before it is copied into the "
            "run, which would then keep the wrong data; write it to "
            "consist.output_path('table') (the run's own folder), or run this sweep with "
            "executor='serial'"
        )
        for name in ("r1", "r2")
    }
    serial = trap.sweep(items)
    assert (serial.ran, serial.cached) == (2, 0)
    for x in (1, 2):
        assert serial.outcomes[f"r{x}"].output("table").read_text() == f"{x}|"


def test_string_naming_an_existing_file_is_refused_with_the_fix(ws: Path) -> None:
    """A config string naming an existing file is refused before anything runs, with how to
    declare it, so an edited file is never served the old result."""
    data = ws.parent / "data.txt"
    data.write_text("one", encoding="utf-8")
    with pytest.raises(ConfigValidationError) as caught:
        _trap(ws).score(name="s", config={"x": 1, "data": str(data)})
    assert str(caught.value) == (
        f"config value 'data' of run 's' names the existing file {str(data)!r} as a plain "
        "string, so its content would not be in the cache key and an edited file would be "
        "served the old result; pass it as inputs={'data': path} or as a pathlib.Path in the "
        "config (both hash its content), or list 'data' in Wiring.untracked_config if the "
        "model does not read it"
    )


@pytest.mark.parametrize("how", ["path-in-config", "inputs"])
@pytest.mark.parametrize("executor", EXECUTORS)
def test_edited_input_file_runs_again_and_touched_one_hits(
    ws: Path, how: str, executor: str, request: pytest.FixtureRequest
) -> None:
    """Change one byte of a file the run read: a fresh run with the new content; touch it
    without changing it: a hit, on every executor."""
    trap = _trap(ws)
    data = ws.parent / "data.txt"
    data.write_text("one", encoding="utf-8")

    def item(name: str) -> tuple[Any, ...]:
        if how == "inputs":
            return (name, {"x": 1}, {"data": data})
        return (name, {"x": 1, "data": data})

    run = _executor(executor, request)
    first = trap.sweep([item("a")], executor=run)
    assert first.ran == 1, first.failures
    data.write_text("two", encoding="utf-8")
    edited = trap.sweep([item("b")], executor=run)
    assert edited.ran == 1
    assert edited.outcomes["b"].output("table").read_text() == "1|two"
    later = time.time() + 5
    import os

    os.utime(data, (later, later))
    touched = trap.sweep([item("c")], executor=run)
    assert touched.cached == 1
    assert touched.outcomes["c"].output("table").read_text() == "1|two"


@pytest.mark.parametrize("executor", EXECUTORS)
def test_identical_calls_with_inputs_execute_once_on_every_executor(
    ws: Path, executor: str, request: pytest.FixtureRequest
) -> None:
    """Four identical sweeps with input files: each config executes once, then is served from
    cache three times, and ``top_k``-style listings see one executed run per config."""
    trap = _trap(ws)
    log = ws.parent / "executed.log"
    data = ws.parent / "data.txt"
    data.write_text("d", encoding="utf-8")
    run = _executor(executor, request)
    ran = cached = 0
    for round_ in range(4):
        items = [(f"c{x}-{round_}", {"x": x, "log": str(log)}, {"data": data}) for x in (1, 2)]
        result = trap.sweep(items, executor=run)
        assert not result.failures
        ran, cached = ran + result.ran, cached + result.cached
    assert (ran, cached) == (2, 6)
    assert sorted(log.read_text().split()) == ["1", "2"]


def test_edited_local_import_runs_again(ws: Path, trap_site: Path) -> None:
    """Edit a module the model imports from its own project: a process that loads the new
    code runs the next identical call again instead of serving the old result (this one,
    still holding the old code, refuses to run: StaleCodeError)."""
    import importlib

    trap = _trap(ws)
    helper = trap_site / "trapmodels" / "helper.py"
    original = helper.read_text(encoding="utf-8")
    first = trap.score(name="a", config={"x": 3})
    try:
        helper.write_text(original + "\n# tuned\n", encoding="utf-8")
        with pytest.raises(StaleCodeError, match="'trapmodels.helper' used by model module"):
            trap.score(name="b", config={"x": 3})
        importlib.reload(importlib.import_module("trapmodels.helper"))
        edited = trap.score(name="b", config={"x": 3})
    finally:
        helper.write_text(original, encoding="utf-8")
        importlib.reload(importlib.import_module("trapmodels.helper"))
    assert not first.cache_hit
    assert not edited.cache_hit
    assert trap.score(name="c", config={"x": 3}).cache_hit


def test_every_run_records_the_model_distribution(ws: Path) -> None:
    """A run, and a hit, record the installed distribution that provides the model."""
    trap = _trap(ws)
    for name in ("a", "b"):
        outcome = trap.score(name=name, config={"x": 5})
        meta = trap.consist.get_run(outcome.run_id).meta["trackyard"]
        assert meta["model_distribution"] == "trapmodels==1.0"


@pytest.mark.parametrize("damage", ["deleted", "changed"])
def test_hit_with_missing_or_changed_output_runs_again(ws: Path, damage: str) -> None:
    """Delete a run's output folder (or change its file): the next identical call runs again,
    records why, and returns a file that exists with the right data."""
    trap = _trap(ws)
    first = trap.score(name="a", config={"x": 2})
    table = first.output("table")
    if damage == "deleted":
        shutil.rmtree(table.parent)
    else:
        table.write_text("tampered", encoding="utf-8")
    again = trap.score(name="b", config={"x": 2})
    assert not again.cache_hit
    assert again.output("table").read_text() == "2|"
    reason = trap.consist.get_run(again.run_id).meta["trackyard"]["rerun_reason"]
    word = "is missing" if damage == "deleted" else "was changed"
    assert reason == f"output 'table' ({table}) of run {first.run_id} {word}"
    assert trap.score(name="c", config={"x": 2}).cache_hit


def test_strict_call_raises_instead_of_running_again(ws: Path) -> None:
    """With ``strict=True`` a hit whose output is gone raises ``StaleOutputError`` naming it."""
    trap = _trap(ws)
    first = trap.score(name="a", config={"x": 4})
    first.output("table").unlink()
    with pytest.raises(StaleOutputError) as caught:
        trap.score(name="b", config={"x": 4}, strict=True)
    assert str(caught.value) == (
        f"run 'b' matched a cached run, but its output 'table' ({first.output('table')}) of run "
        f"{first.run_id} is missing; call again without strict=True to run it again, or run "
        f"`trackyard doctor --workspace {trap.workspace} --fix` to stop serving it"
    )


@pytest.mark.parametrize("executor", EXECUTORS)
def test_sweep_with_deleted_output_runs_again(
    ws: Path, executor: str, request: pytest.FixtureRequest
) -> None:
    """A sweep never serves a config whose recorded output was deleted: it runs again."""
    trap = _trap(ws)
    run = _executor(executor, request)
    first = trap.sweep([("a", {"x": 6})], executor=run)
    first.outcomes["a"].output("table").unlink()
    again = trap.sweep([("b", {"x": 6})], executor=run)
    assert again.ran == 1
    assert again.outcomes["b"].output("table").read_text() == "6|"


def test_reused_run_name_keeps_each_runs_files(ws: Path) -> None:
    """One run name used for two configs: each run keeps its own file, and each config's hit
    serves its own data."""
    trap = _trap(ws)
    one = trap.score(name="same", config={"x": 7})
    two = trap.score(name="same", config={"x": 8})
    assert one.output("table") != two.output("table")
    assert trap.score(name="same", config={"x": 7}).output("table").read_text() == "7|"
    assert trap.score(name="same", config={"x": 8}).output("table").read_text() == "8|"


def test_iteration_runs_keep_their_own_folders(ws: Path) -> None:
    """Two configs run as the same iteration: each keeps its own folder, and each config's hit
    serves its own data (no shared iteration folder)."""
    from trapmodels import model

    trap = _trap(ws)
    one = trap.run(model.score, name="it", config={"x": 11}, iteration=1)
    two = trap.run(model.score, name="it", config={"x": 12}, iteration=1)
    assert one.output("table").parent != two.output("table").parent
    hit = trap.run(model.score, name="it", config={"x": 11}, iteration=1)
    assert hit.cache_hit and hit.output("table").read_text() == "11|"
    assert _in_run_folder(trap, hit)


def test_bare_dataframe_is_the_single_declared_output(ws: Path) -> None:
    """A model returning a bare DataFrame for its one declared output records it as parquet."""
    import pandas as pd
    from trapmodels import model

    outcome = _trap(ws).run(model.frame, name="f", config={"x": 9})
    assert outcome.output("table").suffix == ".parquet"
    assert pd.read_parquet(outcome.output("table"))["x"].tolist() == [9]


def test_named_folder_input_reaches_the_model_as_a_path_and_is_keyed_by_content(
    ws: Path,
) -> None:
    """A folder passed through inputs= reaches the model as its path (not loaded), and adding
    a file to it runs again."""
    from trapmodels import model

    trap = _trap(ws)
    folder = ws.parent / "folder"
    folder.mkdir()
    (folder / "a.txt").write_text("a", encoding="utf-8")
    first = trap.run(model.count_files, name="f1", config={}, inputs={"data": folder})
    assert first.output("table").read_text() == "['a.txt']"
    assert trap.run(model.count_files, name="f2", config={}, inputs={"data": folder}).cache_hit
    (folder / "b.txt").write_text("b", encoding="utf-8")
    again = trap.run(model.count_files, name="f3", config={}, inputs={"data": folder})
    assert not again.cache_hit and again.output("table").read_text() == "['a.txt', 'b.txt']"
