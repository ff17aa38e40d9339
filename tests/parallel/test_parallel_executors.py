"""The serial, process and Dask executors of DomainTracker.run_many give the same results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import trackyard
from trackyard.errors import ConfigValidationError

MODEL = "parallel_models_helper:model"
ITEMS = [
    ("a", {"x": 1}),
    ("b", {"x": 2}),
    ("broken", {"x": 3, "fail": True}),
    ("c", {"x": 4}),
]


def _sweep(workspace: Path, executor: Any, **kw: Any) -> Any:
    import parallel_models_helper as helper

    tracker = trackyard.get_tracker("calibration", workspace=workspace, model=MODEL)
    return tracker, tracker.run_many(helper.model, ITEMS, executor=executor, **kw)


def _view(tracker: Any, result: Any) -> dict[str, Any]:
    """What a user compares: statuses, metrics, output contents, provenance, failures."""
    out: dict[str, Any] = {"failures": {k: v for k, v in result.failures.items()}}
    for name, outcome in result.outcomes.items():
        run = tracker.consist.get_run(outcome.cache_source or outcome.run_id)
        # pid identifies the executing process (used to detect stale runs), so it differs.
        prov = {k: v for k, v in run.meta["trackyard"].items() if k != "pid"}
        out[name] = (
            outcome.status,
            dict(outcome.metrics),
            json.loads(outcome.output("metrics").read_text()),
            prov,
            run.status,
        )
    return out


def _failed_rows(tracker: Any) -> list[str]:
    from sqlalchemy import text

    rows = tracker.consist.run_query(
        text(
            "SELECT json_extract_string(meta, '$.trackyard.run_name') FROM run "
            "WHERE status = 'failed'"
        )
    )
    return [r[0] for r in rows]


def test_processes_match_serial_and_rerun_is_all_cached(models_on_path: Path) -> None:
    """Processes give serial's outcomes and failures; a rerun executes nothing."""
    serial_t, serial = _sweep(models_on_path / "s", "serial")
    proc_t, proc = _sweep(models_on_path / "p", "processes", max_workers=2)
    assert _view(proc_t, proc) == _view(serial_t, serial)
    assert (proc.ran, proc.cached, proc.failed) == (3, 0, 1)
    assert "RuntimeError: model refuses x=3" in proc.failures["broken"]
    assert _failed_rows(proc_t) == _failed_rows(serial_t) == ["broken"]
    for outcome in proc.outcomes.values():
        assert outcome.output("metrics").is_relative_to(models_on_path / "p" / "runs")
    again = proc_t.run_many(
        __import__("parallel_models_helper").model, ITEMS, executor="processes", max_workers=2
    )
    assert (again.ran, again.cached, again.failed) == (0, 3, 1)
    assert again.summary() == "4 configs: 0 ran, 3 cached, 1 failed (broken)"
    assert [r.name for r in proc_t.top_k("score", k=3)] == ["a", "b", "c"]


def test_dask_local_cluster_matches_serial(models_on_path: Path) -> None:
    """A Dask LocalCluster with 2 worker processes gives serial's outcomes and failures."""
    distributed = pytest.importorskip("distributed")
    serial_t, serial = _sweep(models_on_path / "s", "serial")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        dask_t, dask = _sweep(models_on_path / "d", client)
    assert _view(dask_t, dask) == _view(serial_t, serial)
    assert (dask.ran, dask.failed) == (3, 1)


def test_local_function_is_rejected_for_processes(models_on_path: Path) -> None:
    """A model defined inside a function cannot be sent to workers: a clear error, no run."""
    tracker = trackyard.get_tracker("calibration", workspace=models_on_path, model=MODEL)

    def local(config: dict[str, Any]) -> dict[str, Any]:
        return {"score": 1.0}

    with pytest.raises(ConfigValidationError, match="cannot be sent to worker processes"):
        tracker.run_many(local, [("a", {"x": 1})], executor="processes")
    assert tracker.top_k("score") == []


def test_unknown_executor_is_rejected(models_on_path: Path) -> None:
    """An executor that is neither 'serial', 'processes' nor a Dask Client is refused."""
    import parallel_models_helper as helper

    tracker = trackyard.get_tracker("calibration", workspace=models_on_path, model=MODEL)
    with pytest.raises(ConfigValidationError, match="executor must be 'serial', 'processes'"):
        tracker.run_many(helper.model, [("a", {"x": 1})], executor="threads")


def test_worker_with_other_plugin_set_fails_its_tasks(models_on_path: Path) -> None:
    """A plugin installed after the driver started makes every worker task fail clearly."""
    import parallel_models_helper as helper

    tracker = trackyard.get_tracker("calibration", workspace=models_on_path / "w", model=MODEL)
    # A plugin appears in this interpreter's site-packages (a trusted, pip-like install) after
    # the driver read its plugin set; workers start fresh and see it.
    import shutil
    import sysconfig

    site = Path(sysconfig.get_paths()["purelib"])
    info = site / "late_plugin_for_test-1.0.dist-info"
    module = site / "late_plugin_for_test.py"
    try:
        info.mkdir()
        (info / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: late-plugin-for-test\nVersion: 1.0\n"
        )
        (info / "entry_points.txt").write_text("[trackyard.domains]\nlate = late_plugin_for_test\n")
        (info / "RECORD").write_text(f"late_plugin_for_test.py,,\n{info.name}/METADATA,,\n")
        module.write_text("")
        result = tracker.run_many(
            helper.model, [("a", {"x": 1})], executor="processes", max_workers=1
        )
    finally:
        shutil.rmtree(info, ignore_errors=True)
        module.unlink(missing_ok=True)
    assert result.failed == 1
    assert "PluginSetMismatchError" in result.failures["a"]
    assert "different trackyard plugin set than the driver" in result.failures["a"]
