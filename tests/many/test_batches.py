"""Batches keep one store connection and release it; cache misses are explained on request."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.pool import Pool

import trackyard

MODEL = "many_models_helper:model"
CONFIGS = {f"c{i}": {"coeff": i / 10, "label": f"c{i}"} for i in range(6)}


def _tracker(workspace: Path) -> Any:
    return trackyard.get_tracker("calibration", workspace=workspace, model=MODEL)


def test_serial_sweep_opens_few_connections_and_releases_the_store(models_on_path: Path) -> None:
    """A 6-config serial sweep of quick models opens fewer connections than runs, and another
    process can then write to the store at once."""
    cal = _tracker(models_on_path / "w")
    cal.evaluate(
        run_name="warm", config={"coeff": 0.9, "label": "warm"}
    )  # schema and template set-up out of the way
    opened: list[object] = []

    def count(dbapi_connection: object, record: object) -> None:
        opened.append(dbapi_connection)

    event.listen(Pool, "connect", count)
    try:
        result = cal.sweep(CONFIGS)
    finally:
        event.remove(Pool, "connect", count)
    assert (result.ran, result.failed) == (6, 0)
    assert len(opened) < 6  # NullPool opened ~12 per run
    writer = (
        "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
        "print(con.execute('SELECT count(*) FROM run').fetchone()[0]); con.close()"
    )
    done = subprocess.run(
        [sys.executable, "-c", writer, str(cal.settings.db_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == 7
    assert [r.name for r in cal.query_top_k(k=2)] == ["sweep_c5", "sweep_c4"]


def test_misses_are_explained_only_on_request(
    models_on_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A miss records 'not_explained' by default, a real reason with TRACKYARD_EXPLAIN_MISSES=1,
    and explain_miss gives a reason on demand."""
    cal = _tracker(models_on_path / "e")
    quiet = cal.evaluate(run_name="quiet", config={"coeff": 0.3, "label": "quiet"})
    meta = cal.consist.get_run(quiet.run_id).meta
    assert meta["cache_miss_explanation"]["reason"] == "not_explained"
    on_demand = cal.explain_miss(quiet.run_id)
    assert on_demand["status"] == "miss"
    assert on_demand["reason"] != "not_explained"

    monkeypatch.setenv("TRACKYARD_EXPLAIN_MISSES", "1")
    loud = _tracker(models_on_path / "e")
    explained = loud.evaluate(run_name="loud", config={"coeff": 0.4, "label": "loud"})
    reason = loud.consist.get_run(explained.run_id).meta["cache_miss_explanation"]["reason"]
    assert reason not in ("not_explained", "")
    with pytest.raises(LookupError) as info:
        loud.explain_miss("no-such-run")
    assert str(info.value) == f"no run 'no-such-run' in {loud.settings.db_path}"


def test_the_store_is_free_while_a_model_runs(models_on_path: Path) -> None:
    """Inside a single run and inside a serial batch, another process can open the store
    read-write while the model runs (once it has run a fraction of a second)."""
    import batch_models_helper

    cal = _tracker(models_on_path / "f")
    # Given as "untracked:<path>": a config string naming an existing file is refused as an
    # undeclared input, and the store is not an input of the model.
    db = f"untracked:{cal.settings.db_path}"
    single = cal.run(batch_models_helper.probe, name="one", config={"db": db, "coeff": 0.1})
    assert single.metrics["store_free"] == 1.0
    many = cal.run_many(
        batch_models_helper.probe, [(f"b{i}", {"db": db, "coeff": i / 10}) for i in range(2, 5)]
    )
    assert many.failed == 0
    assert [o.metrics["store_free"] for o in many.outcomes.values()] == [1.0] * 3


def _lookups_skipped(caplog: pytest.LogCaptureFixture) -> int:
    return sum("Cache lookup skipped" in r.getMessage() for r in caplog.records)


def test_a_serial_batch_looks_up_only_configs_the_store_may_have(
    models_on_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """consist's own cache lookup (two scans of the run table per run) is skipped for the
    configs the batch's one query found no run for, and only for them: a repeat in the batch
    is still a hit, a recorded run whose output is gone still runs again and says why, and a
    run whose lookup was skipped records its miss unexplained like any other."""
    import logging

    caplog.set_level(logging.DEBUG, logger="trackyard.consist")
    model = _import_model()
    cal = _tracker(models_on_path / "k")
    first = cal.run_many(model, list(CONFIGS.items()), progress=False)
    assert (first.ran, first.cached, _lookups_skipped(caplog)) == (6, 0, 6)
    for outcome in first.outcomes.values():
        meta = cal.consist.get_run(outcome.run_id).meta
        assert meta["cache_miss_explanation"]["reason"] == "not_explained"

    caplog.clear()
    first.outcomes["c0"].outputs["persons"].unlink()  # c0 must run again, and say why
    items = [
        ("c0", CONFIGS["c0"]),
        ("c1", CONFIGS["c1"]),
        ("n1", {"coeff": 0.71, "label": "n1"}),
        ("n2", {"coeff": 0.72, "label": "n2"}),
        ("n1-again", {"coeff": 0.71, "label": "n1"}),
    ]
    second = cal.run_many(model, items, progress=False)
    assert (second.ran, second.cached, second.failed) == (3, 2, 0), second.summary()
    # n1 and n2; c0 is looked up, its hit refused, and it runs again without a lookup
    assert _lookups_skipped(caplog) == 3
    assert second.outcomes["c1"].cache_hit and second.outcomes["n1-again"].cache_hit
    assert second.outcomes["n1-again"].cache_source == second.outcomes["n1"].run_id
    c0 = cal.consist.get_run(second.outcomes["c0"].run_id).meta["trackyard"]
    assert "output" in c0["rerun_reason"] and second.outcomes["c0"].outputs["persons"].exists()


def test_misses_explained_on_request_are_looked_up(
    models_on_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With TRACKYARD_EXPLAIN_MISSES=1 a serial batch's new configs go through consist's
    lookup, so each miss records consist's real reason."""
    import logging

    monkeypatch.setenv("TRACKYARD_EXPLAIN_MISSES", "1")
    caplog.set_level(logging.DEBUG, logger="trackyard.consist")
    cal = _tracker(models_on_path / "x")
    result = cal.run_many(_import_model(), list(CONFIGS.items())[:2], progress=False)
    assert (result.ran, _lookups_skipped(caplog)) == (2, 0)
    for outcome in result.outcomes.values():
        reason = cal.consist.get_run(outcome.run_id).meta["cache_miss_explanation"]["reason"]
        assert reason not in ("not_explained", "")


def _import_model() -> Any:
    import many_models_helper

    return many_models_helper.model
