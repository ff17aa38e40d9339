"""Every run_many keeps a record of its sweep in the workspace while it runs (what
`trackyard serve` shows as "in flight"): its total and its done / failed counts as results land,
on every executor; gone when the sweep ends, however it ends; left by a killed driver, seen as
ended and removed by `trackyard doctor --fix` / `trackyard.reconcile`."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import trackyard
from trackyard import _inflight

from .._console import TRACKYARD, run_trackyard, user_env

HERE = Path(__file__).parent
PYPROJECT = '[tool.trackyard.domains.calibration]\nmodel = "many_models_helper:{model}"\n'


def _configs(ws: Path, log: Path, coeffs: list[float]) -> dict[str, dict[str, Any]]:
    """One config per coefficient; each run first waits until the record counts the runs
    before it as finished (``seen``)."""
    inflight = ws / "inflight"
    return {
        f"c{i}": {
            "coeff": c,
            "label": f"c{i}",
            "seen": i,
            "inflight": f"untracked:{inflight}",
            "log": f"untracked:{log}",
        }
        for i, c in enumerate(coeffs)
    }


def _seen(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def _records(ws: Path) -> list[Path]:
    return sorted((ws / "inflight").glob("*.json")) if (ws / "inflight").is_dir() else []


def _wait(what: str, ready: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _check_seen(seen: list[dict[str, Any]], executor: str, total: int) -> None:
    """Each run saw the record of its own sweep count every run before it."""
    assert [s["item"] for s in seen] == [f"c{i}" for i in range(total)]
    for i, record in enumerate(seen):
        assert record["domain"] == "calibration"
        assert record["label"] == "sweep"  # the verb's bar
        assert record["executor"] == executor
        assert record["total"] == total
        assert record["done"] + record["failed"] == i
        assert record["failed"] == (1 if i > 1 else 0)  # c1 fails
        assert record["host"] == socket.gethostname()
        assert record["pid"] == os.getpid()  # the driver: this test process
        assert record["running"] == 1


@pytest.mark.parametrize("executor", ["serial", "processes"])
def test_a_sweep_keeps_its_record_current_and_removes_it_at_the_end(
    models_on_path: Path, executor: str
) -> None:
    """Each run of a sweep finds the record counting every config finished before it (one
    failure among them), within the throttle; once the sweep ends the record is gone."""
    ws, log = models_on_path / "ws", models_on_path / "seen.jsonl"
    cal = trackyard.get_tracker("calibration", workspace=ws, model="many_models_helper:peek")
    result = cal.sweep(
        _configs(ws, log, [0.2, -1.0, 0.4, 0.6]), executor=executor, max_workers=1, progress=False
    )
    assert (result.ran, result.failed) == (3, 1)
    _check_seen(_seen(log), executor, 4)
    assert _records(ws) == []


def test_a_dask_sweep_keeps_its_record_current(models_on_path: Path) -> None:
    """The same on a Dask cluster: the driver (the client's process) keeps the record."""
    distributed = pytest.importorskip("distributed")
    ws, log = models_on_path / "ws", models_on_path / "seen.jsonl"
    cal = trackyard.get_tracker("calibration", workspace=ws, model="many_models_helper:peek")
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        cal.sweep(_configs(ws, log, [0.2, -1.0, 0.4]), executor=client, progress=False)
    _check_seen(_seen(log), "dask", 3)
    assert _records(ws) == []


def test_batches_sharing_one_bar_share_one_record_of_the_whole_total(
    models_on_path: Path,
) -> None:
    """Two run_many batches counted on one progress bar (as calibrate's batches are) are one
    sweep in flight: its total is the bar's, its counts go on across the batches."""
    ws, log = models_on_path / "ws", models_on_path / "seen.jsonl"
    cal = trackyard.get_tracker("calibration", workspace=ws, model="many_models_helper:peek")
    items = [(n, c) for n, c in _configs(ws, log, [0.2, 0.3, 0.4, 0.5]).items()]
    with cal.progress_bar(4, False, "two batches") as bar:
        cal.run_many(cal._model, items[:2], progress=bar)
        cal.run_many(cal._model, items[2:], progress=bar)
        assert len(_records(ws)) == 1  # still open: the bar is
    seen = _seen(log)
    assert [(s["item"], s["total"], s["done"], s["id"]) for s in seen] == [
        (f"c{i}", 4, i, seen[0]["id"]) for i in range(4)
    ]
    assert _records(ws) == []


def test_a_sweep_stopped_by_an_exception_removes_its_record(models_on_path: Path) -> None:
    """A run_many left by an exception no run catches (a model's KeyboardInterrupt, as a
    Ctrl-C inside the model) removes its record on the way out."""
    ws = models_on_path / "ws"
    cal = trackyard.get_tracker("calibration", workspace=ws, model="many_models_helper:model")
    calls: list[int] = []

    def interrupted(config: dict[str, Any]) -> dict[str, Any]:
        calls.append(len(_records(ws)))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cal.run_many(interrupted, [("a", {"coeff": 0.1}), ("b", {"coeff": 0.2})], progress=False)
    assert calls == [1]  # the record was there while the model ran
    assert _records(ws) == []


# --- a sweep in another process: Ctrl-C and kill -9 -------------------------------------------


def _project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT.format(model="gated"))
    return tmp_path


def _start_sweep(project: Path, ws: Path, ctl: Path, n: int, executor: str) -> Any:
    """``trackyard run calibration sweep`` of ``n`` configs, each run waiting while
    ``ctl/hold-<i>`` exists; its own process group (as a terminal's job)."""
    configs = {f"c{i}": {"x": i, "ctl": f"untracked:{ctl}"} for i in range(n)}
    args = [
        "run", "calibration", "sweep", "-w", str(ws), "--json",
        "--set", f"configs_by_label={json.dumps(configs)}",
        "--set", f"executor={executor}", "--set", "progress=false", "--set", "max_workers=1",
    ]  # fmt: skip
    return subprocess.Popen(
        [str(TRACKYARD), *args],
        cwd=project,
        env=user_env({"PYTHONPATH": str(HERE)}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@contextlib.contextmanager
def _sweeping(project: Path, ws: Path, ctl: Path, n: int, executor: str) -> Iterator[Any]:
    """``_start_sweep``, its process group killed when the block ends if it still runs."""
    proc = _start_sweep(project, ws, ctl, n, executor)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[Path, Path, Path]]:
    """A project, its workspace and a control folder holding c1 and c2."""
    ctl = tmp_path / "ctl"
    ctl.mkdir()
    for i in (1, 2):
        (ctl / f"hold-{i}").write_text("")
    yield _project(tmp_path), tmp_path / "ws", ctl
    for hold in ctl.glob("hold-*"):
        hold.unlink()


def _first_record(ws: Path) -> dict[str, Any]:
    _wait("the record counting c0 done", lambda: _count(ws, "done") == 1)
    return dict(json.loads(_records(ws)[0].read_text()))


def _count(ws: Path, key: str) -> int:
    found = _records(ws)
    return int(json.loads(found[0].read_text())[key]) if found else -1


def test_ctrl_c_on_a_sweep_removes_its_record(held: tuple[Path, Path, Path]) -> None:
    """Ctrl-C on `trackyard run calibration sweep` while a run is held: the command stops and
    its record is gone."""
    project, ws, ctl = held
    with _sweeping(project, ws, ctl, 3, "serial") as proc:
        record = _first_record(ws)
        assert (record["total"], record["done"], record["failed"]) == (3, 1, 0)
        assert record["pid"] == proc.pid
        _wait("c1 to start", lambda: (ctl / "started-1").exists())
        os.killpg(proc.pid, signal.SIGINT)
        proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert _records(ws) == []


@pytest.mark.parametrize("executor", ["serial", "processes"])
def test_a_killed_driver_leaves_its_record_ended_and_reconcile_removes_it(
    held: tuple[Path, Path, Path], executor: str
) -> None:
    """kill -9 of a sweep's driver: its record stays, read as ended (driver gone), and
    `trackyard.reconcile` (what `doctor --fix` runs) removes it; a live sweep's is kept."""
    project, ws, ctl = held
    with _sweeping(project, ws, ctl, 3, executor) as proc:
        _first_record(ws)
        [state] = _inflight.read_all(ws)
        assert state.state == "in flight"
        assert trackyard.reconcile(ws).sweeps_ended == ()  # alive: left alone
        assert len(_records(ws)) == 1
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    [state] = _inflight.read_all(ws)
    assert (state.state, state.count("done"), state.remaining) == ("ended (driver gone)", 1, 2)
    report = trackyard.reconcile(ws)
    assert report.sweeps_ended == (state.record["id"],)
    assert f"removed the record of sweep {state.record['id']}: its driver is gone" in str(report)
    assert _records(ws) == []


def test_a_record_whose_pid_was_reused_is_ended(tmp_path: Path) -> None:
    """A record whose pid now belongs to another process (started later) is not in flight."""
    folder = tmp_path / "inflight"
    folder.mkdir()
    record = {
        "id": "x", "domain": "d", "label": "sweep", "total": 2, "done": 1, "failed": 0,
        "started_at": "2026-01-01T00:00:00+00:00", "host": socket.gethostname(),
        "pid": os.getpid(), "pid_started": "1",
    }  # fmt: skip
    (folder / "x.json").write_text(json.dumps(record))
    if _inflight.process_started(os.getpid()) is None:
        pytest.skip("no /proc: a reused pid cannot be told apart here")
    [state] = _inflight.read_all(tmp_path)
    assert state.state == "ended (driver gone)"


def test_doctor_reports_a_killed_drivers_sweep_and_fix_removes_it(
    held: tuple[Path, Path, Path],
) -> None:
    """`trackyard doctor` warns about the record a killed driver left (not a failure) and says
    how to remove it; `doctor --fix` removes it and says so."""
    project, ws, ctl = held
    with _sweeping(project, ws, ctl, 3, "serial") as proc:
        record = _first_record(ws)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    elsewhere = project / "elsewhere"  # not the project: doctor checks the default model
    elsewhere.mkdir()

    def sweeps_check(*extra: str) -> tuple[str, str]:
        done = run_trackyard("doctor", "--store-only", "--workspace", str(ws), "--json", *extra,
                             cwd=elsewhere)  # fmt: skip
        [report] = [r for r in json.loads(done.stdout) if r["domain"] == "workspace"]
        checks = {c["name"]: (c["status"], c["detail"]) for c in report["checks"]}
        if extra:
            assert f"removed the record of sweep {record['id']}" in checks["reconcile"][1]
        return checks["sweeps in flight"]

    status, detail = sweeps_check()
    assert status == "warn"
    assert detail == (
        f"1 left by a driver that is gone (killed): {record['id']} (calibration sweep: 1 done / "
        "0 failed / 2 remaining); `trackyard doctor --fix` removes their records"
    )
    assert sweeps_check("--fix") == ("ok", "none")
    assert _records(ws) == []
