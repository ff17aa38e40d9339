"""A sweep on a real Dask cluster whose workers cannot see the workspace: results come back
as data, are checked byte for byte, and land in the driver's workspace."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import trackyard

from .noshare_cluster import Cluster, cluster

pytest.importorskip("distributed")

MODEL = "many_models_helper:model"
CONFIGS = {f"c{i}": {"coeff": round(0.1 + i / 10, 2), "label": f"c{i}"} for i in range(6)}


@pytest.fixture(scope="module")
def noshare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A scheduler and two workers, each with an empty private tmpfs over the workspaces."""
    folder = tmp_path_factory.mktemp("noshare")
    with cluster(folder, folder / "workspaces", plugin="noshare_flip") as running:
        yield running


@pytest.fixture
def models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parent))


def _expected(coeff: float) -> dict[str, str]:
    error = (coeff - 0.5) ** 2
    return {
        "persons": f"persons,coeff\n1,{coeff}\n",
        "trips": f"trips,coeff\n1,{coeff}\n",
        "metrics": json.dumps({"coeff": coeff, "error": error}),
    }


def _doctor(workspace: Path) -> subprocess.CompletedProcess[str]:
    trackyard_cli = str(Path(sys.executable).with_name("trackyard"))
    return subprocess.run(
        [trackyard_cli, "doctor", "--store-only", "--workspace", str(workspace)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_sweep_on_workers_without_the_workspace_lands_in_the_drivers_store(
    noshare: Cluster, models: None
) -> None:
    """6 configs run on two workers that see an empty folder where the workspace is; every run
    is in the driver's store with its outputs, doctor passes, and the same sweep again is all
    cache hits."""
    workspace = noshare.hidden / "first"
    cal = trackyard.get_tracker("calibration", workspace=workspace, model=MODEL)
    with noshare.client(2) as client:
        # The workers see the workspace's folder, empty; the driver sees its files.
        seen = client.run(os.listdir, str(noshare.hidden))
        assert list(seen.values()) == [[], []]
        result = cal.sweep(CONFIGS, executor=client)
        assert (result.ran, result.cached, result.failed) == (6, 0, 0), result.summary()
        for label, outcome in result.outcomes.items():
            files = {k: outcome.output(k).read_text() for k in ("persons", "trips", "metrics")}
            assert files == _expected(CONFIGS[label]["coeff"])
            assert outcome.output("metrics").is_relative_to(workspace / "runs")
            run = cal.consist.get_run(outcome.run_id)
            assert run.status == "completed"
        pids = {
            cal.consist.get_run(o.run_id).meta["trackyard"]["pid"] for o in result.outcomes.values()
        }
        assert len(pids) == 2 and os.getpid() not in pids  # both workers ran some

        doctor = _doctor(workspace)
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr

        again = cal.sweep(CONFIGS, executor=client)
        assert (again.ran, again.cached, again.failed) == (0, 6, 0), again.summary()
        assert {k: o.run_id for k, o in again.outcomes.items()} == {
            k: o.run_id for k, o in result.outcomes.items()
        }
    assert not [p for p in (workspace / "shards").iterdir() if p.is_dir()]


def test_a_byte_flipped_in_transit_fails_the_run_with_a_transfer_error(
    noshare: Cluster, models: None
) -> None:
    """A worker plugin flips a byte of run ``sweep_flip``'s output after the worker hashed it:
    the driver refuses it (TransferError naming run, file and both hashes), records the run
    failed and keeps none of its files; the other run lands."""
    workspace = noshare.hidden / "flip"
    cal = trackyard.get_tracker("calibration", workspace=workspace, model=MODEL)
    configs = {"flip": {"coeff": 0.3, "label": "flip"}, "fine": {"coeff": 0.4, "label": "fine"}}
    with noshare.client(2) as client:
        result = cal.sweep(configs, executor=client)
    assert (result.ran, result.failed) == (1, 1), result.summary()
    message = result.failures["flip"]
    found = re.fullmatch(
        r"TransferError: run (\S+): file (runs/\S+\.csv) arrived with sha256 ([0-9a-f]{64}), "
        r"but sha256 ([0-9a-f]{64}) was recorded; the run is recorded failed and none of its "
        r"files were kept \(run it again\)",
        message,
    )
    assert found, message
    run_id, file, arrived, recorded = found.groups()
    assert arrived != recorded
    run = cal.consist.get_run(run_id)
    assert (run.status, run.meta["trackyard"]["run_name"]) == ("failed", "sweep_flip")
    assert run.meta["error"] == message
    assert not (workspace / file).exists()
    snapshot = workspace / "runs" / "consist_runs" / f"{run_id}.json"
    assert json.loads(snapshot.read_text())["run"]["status"] == "failed"  # the row is protected
    assert [p for p in (workspace / "runs").rglob(f"*{run_id}*") if p != snapshot] == []
    assert result.outcomes["fine"].output("persons").read_text() == _expected(0.4)["persons"]
    assert _doctor(workspace).returncode == 0


def test_inputs_travel_once_per_content_and_large_outputs_in_pieces(
    noshare: Cluster, models: None
) -> None:
    """Config Paths the workers cannot see reach them (each content once per worker) at the
    driver's path, and the same sweep again is all cache hits; a 12 MB output comes back in
    pieces, byte for byte."""
    data = noshare.hidden / "data"
    data.mkdir()
    table = data / "table.csv"
    table.write_text("zone,people\n1,10\n", encoding="utf-8")
    other = data / "other.csv"
    other.write_text("zone,people\n2,20\n", encoding="utf-8")
    workspace = noshare.hidden / "inputs"
    cal = trackyard.get_tracker(
        "calibration", workspace=workspace, model="noshare_models_helper:reads_table"
    )
    items = [
        ("a", {"coeff": 0.2, "table": table}),
        ("b", {"coeff": 0.3, "table": table}),
        ("c", {"coeff": 0.4, "table": other}),
    ]
    big = trackyard.get_tracker(
        "calibration", workspace=noshare.hidden / "big", model="noshare_models_helper:big_output"
    )
    import noshare_models_helper as helper

    with noshare.client(2) as client:
        result = cal.run_many(helper.reads_table, items, executor=client)
        assert (result.ran, result.failed) == (3, 0), result.summary()
        for name, config in items:
            text = result.outcomes[name].output("trips").read_text()
            assert text == f"trips {config['coeff']}\n" + config["table"].read_text()
        copies = sorted(noshare.folder.glob("local-w*/**/trackyard/inputs/*/*.csv"))
        assert {p.read_text() for p in copies} == {table.read_text(), other.read_text()}
        assert len(copies) <= 4  # each content at most once per worker
        again = cal.run_many(helper.reads_table, items, executor=client)
        assert (again.ran, again.cached) == (0, 3), again.summary()

        large = big.sweep({"large": {"coeff": 0.25, "megabytes": 12}}, executor=client)
        assert large.ran == 1, large.summary()
        persons = large.outcomes["large"].output("persons").read_bytes()
        assert len(persons) == 12 * 1024 * 1024 and persons.startswith(b"0.250,0.250,")
        assert not list(noshare.folder.glob("local-w*/**/trackyard/*/large-*"))  # cleaned up


def _folders(root: Path) -> tuple[Path, Path, Path]:
    """A model configuration folder, a targets file and a zones folder (with a subfolder),
    all where the workers cannot see them."""
    config_dir, zones = root / "model-config", root / "zones"
    (zones / "north").mkdir(parents=True)
    config_dir.mkdir()
    (config_dir / "modes.csv").write_text("mode,asc\ncar,0.1\n", encoding="utf-8")
    (config_dir / "vot.csv").write_text("vot\n12\n", encoding="utf-8")
    targets = root / "targets.json"
    targets.write_text('{"car": 0.5}', encoding="utf-8")
    (zones / "zones.csv").write_text("zone\n1\n", encoding="utf-8")
    (zones / "north" / "extra.csv").write_text("zone\n7\n", encoding="utf-8")
    return config_dir, targets, zones


def test_identity_inputs_and_folders_travel_and_a_change_in_them_runs_again(
    noshare: Cluster, models: None
) -> None:
    """The domain's identity inputs (a configuration folder and a targets file, options of the
    tracker) and a folder given in the config reach workers that cannot see them: the runs
    read exactly the driver's files; the same sweep again is all hits; a file edited inside
    the configuration folder makes every run run again, reading the new content."""
    config_dir, targets, zones = _folders(noshare.hidden / "identity")
    workspace = noshare.hidden / "identity" / "ws"
    cal = trackyard.get_tracker(
        "calibration", workspace=workspace, model="noshare_models_helper:reads_folders",
        config_dir=config_dir, targets=targets,
    )  # fmt: skip
    items = [(f"z{i}", {"coeff": 0.2 + i / 10, "zones": zones}) for i in range(3)]
    import noshare_models_helper as helper

    expected = [
        "modes.csv=mode,asc\ncar,0.1\n", "vot.csv=vot\n12\n", 'targets={"car": 0.5}',
        "north/extra.csv=zone\n7\n", "zones.csv=zone\n1\n",
    ]  # fmt: skip
    with noshare.client(2) as client:
        seen = client.run(os.path.exists, str(config_dir))
        assert list(seen.values()) == [False, False]  # the workers do not see the folders
        result = cal.run_many(helper.reads_folders, items, executor=client)
        assert (result.ran, result.failed) == (3, 0), result.summary()
        for name, config in items:
            text = result.outcomes[name].output("trips").read_text()
            assert text == f"trips {config['coeff']}\n" + "\n".join(expected)
        again = cal.run_many(helper.reads_folders, items, executor=client)
        assert (again.ran, again.cached) == (0, 3), again.summary()

        (config_dir / "vot.csv").write_text("vot\n15\n", encoding="utf-8")
        edited = cal.run_many(helper.reads_folders, items, executor=client)
        assert (edited.ran, edited.cached, edited.failed) == (3, 0, 0), edited.summary()
        text = edited.outcomes["z0"].output("trips").read_text()
        assert "vot.csv=vot\n15\n" in text and "vot.csv=vot\n12\n" not in text

        # A folder given in the config is keyed by its path too: the workers replace the copy
        # they put at the driver's path, so the edit runs again and is then a hit.
        (zones / "north" / "extra.csv").write_text("zone\n8\n", encoding="utf-8")
        moved = cal.run_many(helper.reads_folders, items, executor=client)
        assert (moved.ran, moved.failed) == (3, 0), moved.summary()
        assert "north/extra.csv=zone\n8\n" in moved.outcomes["z1"].output("trips").read_text()
        hits = cal.run_many(helper.reads_folders, items, executor=client)
        assert (hits.ran, hits.cached) == (0, 3), hits.summary()


def test_a_workers_own_file_at_the_drivers_path_is_left_alone(
    noshare: Cluster, models: None
) -> None:
    """A worker machine that has its own, different file where the driver's input is: the file
    is not overwritten, and the run still reads the driver's content (from the worker's copy)."""
    table = noshare.hidden / "own" / "table.csv"
    table.parent.mkdir(parents=True)
    table.write_text("zone,people\n3,30\n", encoding="utf-8")
    cal = trackyard.get_tracker(
        "calibration", workspace=noshare.hidden / "own" / "ws",
        model="noshare_models_helper:reads_table",
    )  # fmt: skip
    import noshare_models_helper as helper

    with noshare.client(2) as client:
        client.run(helper.own_file, str(table), "the worker's own\n")
        result = cal.run_many(helper.reads_table, [("a", {"coeff": 0.2, "table": table})],
                              executor=client)  # fmt: skip
        assert (result.ran, result.failed) == (1, 0), result.summary()
        assert result.outcomes["a"].output("trips").read_text() == "trips 0.2\n" + (
            "zone,people\n3,30\n"
        )
        kept = client.run(helper.read_text, str(table))
        assert list(kept.values()) == ["the worker's own\n"] * 2


def test_a_worker_without_the_models_module_says_how_to_provide_it(
    noshare: Cluster, models: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model module only the driver has: each run fails saying how to give it to the workers;
    after ``client.upload_file`` the same sweep runs."""
    module = tmp_path / "driver_only_model.py"
    module.write_text(
        (Path(__file__).parent / "many_models_helper.py").read_text(), encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    workspace = noshare.hidden / "module"
    cal = trackyard.get_tracker("calibration", workspace=workspace, model="driver_only_model:model")
    configs = {"one": {"coeff": 0.2, "label": "one"}}
    with noshare.client(2) as client:
        result = cal.sweep(configs, executor=client)
        assert result.failed == 1, result.summary()
        message = result.failures["one"]
        assert message.startswith("ModuleNotFoundError: Dask worker "), message
        assert "cannot import the model's module 'driver_only_model'" in message
        for hint in ("same image", "client.upload_file('driver_only_model.py')", "PipInstall"):
            assert hint in message
        client.upload_file(str(module))
        again = cal.sweep(configs, executor=client)
        assert (again.ran, again.failed) == (1, 0), again.summary()


SLOW = {
    f"s{i}": {"coeff": round(0.1 + i / 10, 2), "label": f"s{i}", "sleep": 1.5} for i in range(6)
}

DRIVER = """
import sys
from distributed import Client
import trackyard
cal = trackyard.get_tracker("calibration", workspace=sys.argv[2], model="many_models_helper:model")
configs = {f"s{i}": {"coeff": round(0.1 + i / 10, 2), "label": f"s{i}", "sleep": 1.5}
           for i in range(6)}
with Client(sys.argv[1]) as client:
    print(cal.sweep(configs, executor=client).summary())
"""


@pytest.fixture(scope="module")
def fragile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A cluster of its own: its driver and one of its workers get killed."""
    folder = tmp_path_factory.mktemp("fragile")
    with cluster(folder, folder / "workspaces") as running:
        yield running


def _wait_for_a_task(folder: Path, worker: str = "w*", timeout: float = 120) -> None:
    """Until a task of ours runs on ``worker`` (its scratch folder exists)."""
    deadline = time.monotonic() + timeout
    while not list(folder.glob(f"local-{worker}/**/trackyard/*/s*-*/shard.duckdb")):
        assert time.monotonic() < deadline, "no task started"
        time.sleep(0.1)


def _runs_by_name(cal: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for run in cal.consist.find_runs(model="mode_choice", limit=1000):
        found.setdefault(run.meta["trackyard"]["run_name"], []).append(run.status)
    return found


def test_a_killed_driver_leaves_nothing_running_and_the_next_sweep_finishes(
    fragile: Cluster, models: None, tmp_path: Path
) -> None:
    """kill -9 of the driver mid-sweep: ``trackyard doctor --fix`` leaves nothing running, and
    the same sweep from a new driver completes every config once."""
    workspace = fragile.hidden / "driver"
    script = tmp_path / "driver.py"
    script.write_text(DRIVER, encoding="utf-8")
    driver = subprocess.Popen(
        [sys.executable, str(script), fragile.address, str(workspace)], env=fragile.env
    )
    try:
        _wait_for_a_task(fragile.folder)
        time.sleep(1.0)
    finally:
        driver.kill()
        driver.wait()
    fixed = subprocess.run(
        [str(Path(sys.executable).with_name("trackyard")), "doctor", "--store-only", "--fix",
         "--workspace", str(workspace)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    cal = trackyard.get_tracker("calibration", workspace=workspace, model=MODEL)
    assert "running" not in str(_runs_by_name(cal))
    with fragile.client(2) as client:
        result = cal.sweep(SLOW, executor=client)
    assert (result.ran + result.cached, result.failed) == (6, 0), result.summary()
    assert {n: s.count("completed") for n, s in _runs_by_name(cal).items()} == {
        f"sweep_s{i}": 1 for i in range(6)
    }


def test_a_worker_killed_mid_sweep_loses_and_duplicates_nothing(
    fragile: Cluster, models: None
) -> None:
    """kill -9 of a worker while it runs a task: Dask runs that config on the other worker;
    every config lands exactly once, with its outputs."""
    workspace = fragile.hidden / "worker"
    cal = trackyard.get_tracker("calibration", workspace=workspace, model=MODEL)
    with fragile.client(2) as client:
        outcome: dict[str, Any] = {}
        sweeping = threading.Thread(
            target=lambda: outcome.update(result=cal.sweep(SLOW, executor=client))
        )
        sweeping.start()
        _wait_for_a_task(fragile.folder, "w1")
        fragile.kill("w1")
        sweeping.join(timeout=600)
    result = outcome["result"]
    assert (result.ran, result.failed) == (6, 0), result.summary()
    assert _runs_by_name(cal) == {f"sweep_s{i}": ["completed"] for i in range(6)}
    for label, config in SLOW.items():
        assert (
            result.outcomes[label].output("trips").read_text()
            == _expected(config["coeff"])["trips"]
        )
    assert _doctor(workspace).returncode == 0
