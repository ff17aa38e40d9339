"""`doctor --fix` rebuilds a damaged store with everything the snapshots carry, row for row."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

import trackyard

from . import store_models
from .conftest import cli, content_rows, db_runs, sweep_args


@pytest.fixture(autouse=True)
def _long_lock_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """A long lock budget: an error mistaken for a lock would make the test wait 10 minutes."""
    monkeypatch.setenv("TRACKYARD_LOCK_TIMEOUT", "600")


def _truncate_and_fix(cwd: Path, ws: Path) -> None:
    """Damage the store as a crash would (cut its end), then `trackyard doctor --fix`."""
    db = ws / "provenance.duckdb"
    db.write_bytes(db.read_bytes()[:-1000])
    done = cli(cwd, "doctor", "--store-only", "--fix", "--workspace", str(ws), "--json")
    assert '"name": "reconcile",\n        "status": "ok"' in done.stdout, done.stdout + done.stderr


def _config_views(t: Any, run_ids: list[str]) -> dict[str, Any]:
    """What a user asks about runs' configs: the config each run was called with, its
    flattened config facet, the facets recorded, and which runs a facet query finds."""
    consist = t.consist
    return {
        "run_config": {r: t.run_config(r) for r in run_ids},
        "config_values": {r: consist.get_config_values(r) for r in run_ids},
        "kv": {
            r: sorted(
                (kv.key, kv.value_type, kv.value_str, kv.value_num, kv.value_bool, kv.value_json)
                for kv in consist.get_run_config_kv(r)
            )
            for r in run_ids
        },
        "facets": sorted(
            (f.id, f.namespace, f.schema_name, f.schema_version, repr(f.facet_json))
            for f in consist.get_config_facets(limit=1000)
        ),
        "north": sorted(r.id for r in consist.find_runs(facet={"region": "north"})),
        "deep": sorted(r.id for r in consist.find_runs(facet={"knobs": {"a.b": 2}})),
        "best": t.best_config(metric="rmse"),
    }


def test_doctor_fix_restores_config_facets(project: Path) -> None:
    """After `trackyard doctor --fix` rebuilds a truncated store, each run's config, its
    config facet and facet queries answer exactly as they did before the damage."""
    ws = project / "ws"
    t = trackyard.get_tracker("calibration", workspace=ws, model=store_models.calib)
    ids = [
        t.run(
            store_models.calib,
            name=f"r{i}",
            config={"x": i, "label": f"L{i}"},
            facets={"region": "north" if i % 2 else "south", "x": i,
                    "knobs": {"a.b": i, "on": i > 1, "list": [i, "v"], "none": None}},
        ).run_id
        for i in range(4)
    ]  # fmt: skip
    ids.append(t.evaluate(run_name="plain", config={"x": 9}).run_id)  # no facet
    ids.append(t.run(store_models.calib, name="again", config={"x": 1}, facets={"region": "north",
               "x": 1, "knobs": {"a.b": 1, "on": False, "list": [1, "v"], "none": None}}).run_id)  # fmt: skip
    before = _config_views(t, ids)
    assert before["north"] and before["deep"] and before["kv"][ids[0]]  # facets were recorded
    _truncate_and_fix(project, ws)
    assert set(db_runs(ws / "provenance.duckdb")) == set(ids)
    with trackyard.get_tracker("calibration", workspace=ws, model=store_models.calib) as again:
        assert _config_views(again, ids) == before


# Every column is compared: the snapshots this trackyard writes carry what consist's lack
# (content rows, facet timestamps).
_NOT_IN_SNAPSHOTS: dict[str, set[str]] = {}
_TABLES = {
    "run": "id",
    "artifact": "id",
    "run_artifact_link": "run_id, artifact_id",
    "config_facet": "id",
    "run_config_kv": "run_id, facet_id, namespace, key",
}


def _rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of consist's run, artifact, link and facet tables, in key order."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with duckdb.connect(str(db), read_only=True) as con:
        for table, order in _TABLES.items():
            columns = [
                str(c[0])
                for c in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
                    "ORDER BY column_index",
                    [table],
                ).fetchall()
                if c[0] not in _NOT_IN_SNAPSHOTS.get(table, set())
            ]
            names = ", ".join(f'"{c}"' for c in columns)
            out[table] = con.execute(f"SELECT {names} FROM {table} ORDER BY {order}").fetchall()
    # Every column, its id and created_at included: exact for snapshots written by this
    # trackyard (docs/trust.md names what is approximated for older ones).
    out["artifact_content"] = content_rows(db)
    return out


def test_rebuilt_store_equals_the_original_row_for_row(project: Path) -> None:
    """A store rebuilt by `trackyard doctor --fix` holds the same runs, artifacts, links,
    config facets and facet keys as the original, row for row, for several domains' runs."""
    ws = project / "ws"
    cal = trackyard.get_tracker("calibration", workspace=ws, model=store_models.calib)
    cal.sweep({f"c{i}": {"x": i} for i in range(8)}, progress=False)
    cal.sweep({f"c{i}": {"x": i} for i in range(3)}, progress=False)  # cache hits
    processes = {f"p{i}": {"x": 20 + i} for i in range(6)}
    swept = cli(project, *sweep_args(ws, processes, "processes"), "--set", "max_workers=2")
    assert swept.returncode == 0, swept.stderr
    for i in range(4):
        cal.run(store_models.calib, name=f"f{i}", config={"x": 10 + i},
                facets={"region": "north" if i % 2 else "south", "i": i, "knobs": {"on": i > 1}})  # fmt: skip
    sim = trackyard.get_tracker("simulation", workspace=ws)
    sim.run_years(name="base", years=[2025, 2030, 2035], config={"alpha": 1.0})
    sim.run_years(name="alt", years=[2025, 2030], config={"alpha": 0.8})
    sim.run_model(name="one", config={"alpha": 0.5})
    db = ws / "provenance.duckdb"
    before = _rows(db)
    assert len(before["run"]) >= 25 and before["run_config_kv"] and before["artifact_content"]
    _truncate_and_fix(project, ws)
    after = _rows(db)
    for table in before:
        assert after[table] == before[table], table


def test_rebuild_keeps_content_rows_that_serial_runs_and_sweep_shards_share(
    project: Path,
) -> None:
    """Outputs with the same bytes in serial runs and in a `processes` sweep's worker shards
    (each shard records its own content row, which the main store skips when it already has
    one): after `trackyard doctor --fix`, every artifact content row is the main store's,
    its id and created_at to the microsecond."""
    (project / "pyproject.toml").write_text(
        '[tool.trackyard.domains.calibration]\nmodel = "store_models:fill"\n'
    )
    ws = project / "ws"
    serial = cli(project, *sweep_args(ws, {f"s{i}": {"size": 1, "x": i} for i in range(3)}))
    assert serial.returncode == 0, serial.stderr
    shared = {f"p{i}": {"size": 2 + i} for i in range(6)}
    swept = cli(project, *sweep_args(ws, shared, "processes"), "--set", "max_workers=2")
    assert swept.returncode == 0, swept.stderr
    db = ws / "provenance.duckdb"
    before = _rows(db)
    assert len(before["run"]) == 9 and len(before["artifact_content"]) == 8  # "small" shared
    _truncate_and_fix(project, ws)
    after = _rows(db)
    for table in before:
        assert after[table] == before[table], table


def test_snapshots_written_before_content_rows_were_kept_are_rebuilt_approximately(
    project: Path,
) -> None:
    """Snapshots of an older trackyard (no content rows kept): `doctor --fix` rebuilds every
    run, says how many were restored with approximated content rows, and gives each content
    row the id its artifacts name and the created_at of the first artifact restored with it,
    as docs/trust.md says; every other table is exact."""
    ws = project / "ws"
    swept = cli(project, *sweep_args(ws, {f"c{i}": {"x": i} for i in range(4)}))
    assert swept.returncode == 0, swept.stderr
    for path in (ws / "runs" / "consist_runs").glob("*.json"):
        payload = json.loads(path.read_text())
        assert payload.pop("trackyard")["artifact_content"]  # kept by this trackyard
        path.write_text(json.dumps(payload))
    db = ws / "provenance.duckdb"
    before = _rows(db)
    db.write_bytes(db.read_bytes()[:-1000])
    done = cli(project, "doctor", "--store-only", "--fix", "--workspace", str(ws), "--json")
    assert (
        "4 run(s) restored from snapshots written before trackyard kept their rows' "
        "timestamps: their artifact_content id and created_at, config_facet and "
        "run_config_kv created_at are approximated (docs/trust.md)"
    ) in done.stdout, done.stdout + done.stderr
    after = _rows(db)
    for table in ("run", "artifact", "run_artifact_link"):
        assert after[table] == before[table], table
    with duckdb.connect(str(db), read_only=True) as con:
        first = dict(
            con.execute(
                "SELECT content_id, min(created_at) FROM artifact GROUP BY content_id"
            ).fetchall()
        )
    assert len(after["artifact_content"]) == len(before["artifact_content"]) == 4
    for (cid, chash, driver, created, meta), old in zip(
        after["artifact_content"], before["artifact_content"], strict=True
    ):
        assert (cid, chash, driver, meta) == (old[0], old[1], old[2], old[4])
        assert created == first[cid] and created != old[3]  # consist's is a few ms later


def test_a_snapshot_that_cannot_be_restored_costs_only_its_own_run(tmp_path: Path) -> None:
    """When one snapshot lacks a value the store requires, the rebuild restores every other
    run and names the one it could not restore."""
    ws = tmp_path / "ws"
    t = trackyard.get_tracker("calibration", workspace=ws, model=store_models.calib)
    ids = [t.evaluate(run_name=f"r{i}", config={"x": i}).run_id for i in range(3)]
    bad = ws / "runs" / "consist_runs" / f"{ids[1]}.json"
    payload = json.loads(bad.read_text())
    del payload["outputs"][0]["container_uri"]  # NOT NULL in the store
    bad.write_text(json.dumps(payload))
    (ws / "provenance.duckdb").unlink()
    report = trackyard.reconcile(ws)
    assert set(report.rows_restored) == {ids[0], ids[2]}
    (error,) = report.errors
    assert error.startswith(f"{ids[1]}: could not restore (ConstraintException: "), error
    assert "artifact.container_uri" in error
    assert set(db_runs(ws / "provenance.duckdb")) == {ids[0], ids[2]}
