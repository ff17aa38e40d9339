"""run_many, sweep and calibrate give the same results, failures and provenance on every
executor (serial, local processes, a Dask cluster)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import trackyard

MODEL = "many_models_helper:model"


def _model() -> Any:
    """The model function (importable once the ``models_on_path`` fixture has run)."""
    import many_models_helper

    return many_models_helper.model


CONFIGS = {
    "low": {"coeff": 0.2, "label": "low"},
    "mid": {"coeff": 0.45, "label": "mid"},
    "bad": {"coeff": -1.0, "label": "bad"},
    "high": {"coeff": 0.9, "label": "high"},
}


def _tracker(workspace: Path) -> Any:
    return trackyard.get_tracker("calibration", workspace=workspace, model=MODEL)


def _view(cal: Any, result: Any) -> dict[str, Any]:
    """What a user compares: statuses, metrics, output contents, config, provenance, failures."""
    out: dict[str, Any] = {"failures": dict(result.failures)}
    for label, outcome in result.outcomes.items():
        run = cal.consist.get_run(outcome.cache_source or outcome.run_id)
        # pid identifies the executing process (used to detect stale runs), so it differs.
        prov = {k: v for k, v in run.meta["trackyard"].items() if k != "pid"}
        files = {key: outcome.output(key).read_text() for key in ("persons", "trips", "metrics")}
        out[label] = (
            outcome.status,
            dict(outcome.metrics),
            files,
            cal.run_config(run.id),
            prov,
            run.status,
        )
    return out


def _failed_run_names(cal: Any) -> list[str]:
    failed = cal.consist.find_runs(status="failed", model="mode_choice")
    return sorted(r.meta["trackyard"]["run_name"] for r in failed)


def test_processes_sweep_matches_serial_and_a_rerun_executes_nothing(
    models_on_path: Path,
) -> None:
    """executor='processes' gives serial's outcomes, files and failures; a rerun runs nothing."""
    serial_cal = _tracker(models_on_path / "s")
    serial = serial_cal.sweep(CONFIGS)
    proc_cal = _tracker(models_on_path / "p")
    proc = proc_cal.sweep(CONFIGS, executor="processes", max_workers=2)

    assert _view(proc_cal, proc) == _view(serial_cal, serial)
    assert list(proc.outcomes) == ["low", "mid", "high"]
    assert (proc.ran, proc.cached, proc.failed) == (3, 0, 1)
    assert proc.failures == {"bad": "ValueError: cannot run coeff=-1.0"}
    assert _failed_run_names(proc_cal) == _failed_run_names(serial_cal) == ["sweep_bad"]
    for outcome in proc.outcomes.values():
        assert outcome.output("metrics").is_relative_to(models_on_path / "p" / "runs")

    again = proc_cal.sweep(CONFIGS, executor="processes", max_workers=2)
    assert (again.ran, again.cached, again.failed) == (0, 3, 1)
    assert again.summary().startswith("4 evaluations: 0 ran, 3 from cache, 1 failed")
    assert {k: o.run_id for k, o in again.outcomes.items()} == {
        k: o.run_id for k, o in proc.outcomes.items()
    }
    # The engine underneath, called directly: the same cache, its own summary line.
    items = [(f"sweep_{label}", config) for label, config in CONFIGS.items()]
    many = proc_cal.run_many(_model(), items, executor="processes", max_workers=2)
    assert many.summary() == "4 configs: 0 ran, 3 cached, 1 failed (sweep_bad)"
    assert list(many.failures) == ["sweep_bad"]
    assert [r.name for r in proc_cal.query_top_k(k=3)] == ["sweep_mid", "sweep_low", "sweep_high"]
    shards = models_on_path / "p" / "shards"
    assert not [p for p in shards.iterdir() if p.is_dir()]  # every shard merged and removed


def test_worker_processes_see_the_drivers_environment_as_it_is_at_each_sweep(
    models_on_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A processes sweep's workers see the driver's environment of that moment, as serial runs do."""
    import many_models_helper

    cal = _tracker(models_on_path / "env")
    read: dict[str, str] = {}
    for scale, label in (("1", "first"), ("3", "second")):
        monkeypatch.setenv("MANY_SCALE", scale)
        items = [(label, {"coeff": 0.25, "label": label})]
        result = cal.run_many(many_models_helper.env_model, items, executor="processes")
        assert not result.failures
        read[label] = result.outcomes[label].output("persons").read_text(encoding="utf-8")
    assert read == {"first": "persons,coeff\n1,0.25\n", "second": "persons,coeff\n1,0.75\n"}


def test_dask_local_cluster_sweep_matches_serial(models_on_path: Path) -> None:
    """A Dask LocalCluster with 2 worker processes gives serial's outcomes, files and failures."""
    distributed = pytest.importorskip("distributed")
    serial_cal = _tracker(models_on_path / "s")
    serial = serial_cal.sweep(CONFIGS)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        dask_cal = _tracker(models_on_path / "d")
        result = dask_cal.sweep(CONFIGS, executor=client)
        tpe = dask_cal.calibrate(
            space={"coeff": (0.0, 1.0)}, method="tpe", n_trials=4, seed=2, executor=client
        )
    assert _view(dask_cal, result) == _view(serial_cal, serial)
    assert (result.ran, result.failed) == (3, 1)
    serial_tpe = serial_cal.calibrate(
        space={"coeff": (0.0, 1.0)}, method="tpe", n_trials=4, seed=2, max_workers=2
    )
    assert [t.config for t in tpe.trials] == [t.config for t in serial_tpe.trials]
    assert (tpe.best_config, tpe.best_value) == (serial_tpe.best_config, serial_tpe.best_value)


def test_random_calibration_on_processes_equals_serial(models_on_path: Path) -> None:
    """calibrate(method='random', executor='processes') finds serial's trials and best config."""
    space = {"coeff": (-0.5, 1.0)}  # some draws are negative: those trials fail
    serial_cal = _tracker(models_on_path / "s")
    serial = serial_cal.calibrate(space=space, method="random", n_trials=6, seed=4)
    proc_cal = _tracker(models_on_path / "p")
    proc = proc_cal.calibrate(
        space=space, method="random", n_trials=6, seed=4, executor="processes", max_workers=2
    )

    assert [t.config for t in proc.trials] == [t.config for t in serial.trials]
    assert [t.metrics for t in proc.trials] == [t.metrics for t in serial.trials]
    assert proc.failures == serial.failures and proc.failed == serial.failed >= 1
    assert (proc.best_config, proc.best_value) == (serial.best_config, serial.best_value)
    assert proc_cal.best_config() == serial_cal.best_config() == proc.best_config
    assert proc_cal.run_config(proc.best_run_id) == proc.best_config
    replay = proc_cal.calibrate(
        space=space, method="random", n_trials=6, seed=4, executor="processes", max_workers=2
    )
    assert (replay.ran, replay.cached) == (0, proc.ran)
    assert replay.best_run_id == proc.best_run_id


def test_tpe_batches_are_the_same_on_processes_and_serial(models_on_path: Path) -> None:
    """TPE with max_workers=2 asks two trials at a time; processes and serial agree."""
    space = {"coeff": (0.0, 1.0)}
    serial = _tracker(models_on_path / "s").calibrate(
        space=space, method="tpe", n_trials=5, seed=9, max_workers=2
    )
    proc = _tracker(models_on_path / "p").calibrate(
        space=space, method="tpe", n_trials=5, seed=9, executor="processes", max_workers=2
    )
    assert [t.config for t in proc.trials] == [t.config for t in serial.trials]
    assert len({t.config["coeff"] for t in proc.trials}) == 5
    assert (proc.ran, proc.best_value) == (5, serial.best_value)


def _worker_pids(cal: Any, outcomes: Any) -> set[int]:
    """The pids of the processes that executed ``outcomes`` (recorded on each run)."""
    return {int(cal.consist.get_run(o.run_id).meta["trackyard"]["pid"]) for o in outcomes}


def test_a_calibration_reuses_its_worker_processes_across_batches(models_on_path: Path) -> None:
    """A TPE calibration on processes (three batches of two trials) runs every batch on the
    same two worker processes, and they have exited once calibrate returns."""
    import os

    cal = _tracker(models_on_path / "p")
    result = cal.calibrate(
        space={"coeff": (0.0, 1.0)}, method="tpe", n_trials=6, seed=3,
        executor="processes", max_workers=2,
    )  # fmt: skip
    assert result.ran == 6
    pids = _worker_pids(cal, result.trials)
    assert len(pids) <= 2 and os.getpid() not in pids
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_run_many_calls_in_reuse_workers_share_processes_and_others_do_not(
    models_on_path: Path,
) -> None:
    """Inside `reuse_workers()` two run_many calls on processes use the same workers; outside
    it each call starts its own."""
    cal = _tracker(models_on_path / "p")
    model = _model()

    def batch(tag: str) -> Any:
        items = [(f"{tag}{i}", {"coeff": 0.1 * i + 0.01, "label": tag}) for i in range(4)]
        result = cal.run_many(model, items, executor="processes", max_workers=2)
        assert result.ran == 4, result.failures
        return result.outcomes.values()

    with cal.reuse_workers():
        kept = _worker_pids(cal, batch("a")) | _worker_pids(cal, batch("b"))
    assert len(kept) <= 2
    assert not _worker_pids(cal, batch("c")) & kept
