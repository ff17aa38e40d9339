"""A sweep on a real Dask cluster whose workers cannot see the workspace: results come back
as data, are checked byte for byte, and land in the driver's workspace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

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
    with cluster(folder, folder / "workspaces") as running:
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
        [trackyard_cli, "doctor", "--workspace", str(workspace)],
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
