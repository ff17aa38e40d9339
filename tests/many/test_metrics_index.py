"""The metrics index ranks exactly as parsing every run's JSON did, whatever wrote the runs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import consist
import duckdb

import trackyard
from trackyard import _queries
from trackyard._store import Store

MODEL = "many_models_helper:model"


def _tracker(workspace: Path) -> Any:
    return trackyard.get_tracker("calibration", workspace=workspace, model=MODEL)


def _plain(value: float | None) -> float | str | None:
    """NaN as a string, so that rankings compare equal."""
    return "nan" if value is not None and math.isnan(value) else value


def _rankings(cal: Any, metric: str = "mode_share_error") -> list[list[tuple[str, Any]]]:
    """Both orders and several k, through the index and through the JSON reference."""
    out = []
    for use_index in (True, False):
        for order in ("asc", "desc"):
            for k in (1, 3, 50):
                ranked = _queries.ranked_runs(
                    Store.of(cal.settings), cal.domain_name, metric, k, order, use_index=use_index
                )
                out.append([(r.run_id, _plain(r.value)) for r in ranked])
    return out


def _agree(cal: Any, metric: str = "mode_share_error") -> list[tuple[str, Any]]:
    """Assert index and reference agree; return the index's full ascending ranking."""
    both = _rankings(cal, metric)
    half = len(both) // 2
    assert both[:half] == both[half:]
    return both[2]


def _direct_consist_run(cal: Any, value: float | str) -> str:
    """A run written by consist used directly (not through trackyard's run)."""

    def direct(config: dict[str, Any]) -> None:
        consist.log_meta(metrics={"mode_share_error": value, "odd key": 1.0})

    result = cal.consist.run(fn=direct, name="direct", model="mode_choice", config={"v": value})
    return str(result.run.id)


def _index_tables(db: Path) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
    return {r[0] for r in rows if r[0].startswith("trackyard_")}


def test_index_ranks_like_json_after_sweeps_direct_consist_runs_and_nan(
    models_on_path: Path, configs: dict[str, Any]
) -> None:
    """Rankings agree with the JSON query after a sweep, direct consist runs (NaN included)."""
    cal = _tracker(models_on_path / "s")
    cal.sweep(configs)
    first = _agree(cal)
    assert first[0][1] == 0.0  # coeff 0.5 is the best
    nan_run = _direct_consist_run(cal, "nan")
    best_run = _direct_consist_run(cal, -1.0)
    ranking = _agree(cal)
    assert ranking[0] == (best_run, -1.0)  # picked up before the query answered
    assert ranking[-1][0] == nan_run  # NaN ranks last
    assert cal.best_config() == {"v": -1.0}


def test_index_picks_up_runs_merged_from_a_processes_sweep(
    models_on_path: Path, configs: dict[str, Any]
) -> None:
    """Runs merged from worker shards are ranked, and the ranking agrees with the JSON query."""
    cal = _tracker(models_on_path / "p")
    cal.sweep({"low": configs["low"]})
    assert [r.name for r in cal.query_top_k(k=5)] == ["sweep_low"]
    cal.sweep(configs, executor="processes", max_workers=2)
    ranking = _agree(cal)
    assert len(ranking) == 4
    assert [r.name for r in cal.query_top_k(k=2)] == ["sweep_top", "sweep_mid"]


def test_store_without_index_answers_then_gets_it_and_reconcile_rebuilds_it(
    models_on_path: Path, configs: dict[str, Any]
) -> None:
    """An older store (no index tables) ranks correctly and gains them; reconcile repairs it."""
    cal = _tracker(models_on_path / "o")
    cal.sweep(configs)
    db = cal.settings.db_path
    with duckdb.connect(str(db)) as con:
        for table in ("trackyard_metric", "trackyard_run_index", "trackyard_index_meta"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
    assert _index_tables(db) == set()
    assert [r.name for r in cal.query_top_k(k=2)] == ["sweep_top", "sweep_mid"]
    assert _index_tables(db) == {"trackyard_metric", "trackyard_run_index", "trackyard_index_meta"}
    with duckdb.connect(str(db)) as con:  # a damaged index: a wrong value
        con.execute("UPDATE trackyard_metric SET value = -5 WHERE name = 'sweep_high'")
    assert cal.query_top_k(k=1)[0].name == "sweep_high"
    trackyard.reconcile(cal.workspace)
    assert [r.name for r in cal.query_top_k(k=2)] == ["sweep_top", "sweep_mid"]
    _agree(cal)


def test_runs_written_by_another_tool_with_older_timestamps_are_ranked(
    models_on_path: Path, configs: dict[str, Any]
) -> None:
    """A run another tool inserts with a timestamp older than every indexed run still ranks."""
    cal = _tracker(models_on_path / "t")
    cal.sweep(configs)
    assert cal.query_top_k(k=1)[0].name == "sweep_top"  # the index now exists
    db = cal.settings.db_path
    with duckdb.connect(str(db)) as con:
        cols = [r[0] for r in con.execute("DESCRIBE run").fetchall()]
        select = ", ".join(
            "'old-tool-run'"
            if c == "id"
            else "TIMESTAMP '2000-01-01 00:00:00'"
            if c == "created_at"
            else 'json_merge_patch(meta, \'{"metrics": {"mode_share_error": -9.0}, '
            '"trackyard": {"run_name": "old"}}\')'
            if c == "meta"
            else c
            for c in cols
        )
        con.execute(
            f"INSERT INTO run SELECT {select} FROM run "
            "WHERE json_extract_string(meta, '$.trackyard.run_name') = 'sweep_top'"
        )
    top = cal.query_top_k(k=2)
    assert (top[0].run_id, top[0].name, top[0].value) == ("old-tool-run", "old", -9.0)
    _agree(cal)


def _copies(db: Path, name: str, n: int, prefix: str) -> None:
    """Insert ``n`` copies of run ``name`` with new ids and random metric values (another
    tool bulk-loading runs), a few of them NaN."""
    with duckdb.connect(str(db)) as con:
        cols = [r[0] for r in con.execute("DESCRIBE run").fetchall()]
        value = "CASE WHEN i % 997 = 0 THEN 'NaN' ELSE CAST(round(random(), 3) AS VARCHAR) END"
        select = ", ".join(
            f"'{prefix}' || CAST(i AS VARCHAR)"
            if c == "id"
            else "json_merge_patch(meta, json_object('metrics', json_object("
            f"'mode_share_error', {value}), 'trackyard', json_object('run_name', "
            f"'{prefix}' || CAST(i AS VARCHAR))))"
            if c == "meta"
            else c
            for c in cols
        )
        con.execute(
            f"INSERT INTO run SELECT {select} FROM run, range({n}) t(i) "
            "WHERE json_extract_string(meta, '$.trackyard.run_name') = ?",
            [name],
        )


def test_a_large_index_kept_in_order_ranks_like_json_as_runs_are_added(
    models_on_path: Path, configs: dict[str, Any]
) -> None:
    """With 12,000 runs (the index rewritten in value order) and then 15,000 more (appended,
    then rewritten again), rankings in both orders equal the JSON query's, ties included."""
    cal = _tracker(models_on_path / "big")
    cal.sweep(configs)
    db = cal.settings.db_path
    for n, prefix in ((12_000, "a"), (300, "b"), (15_000, "c")):
        _copies(db, "sweep_mid", n, prefix)
        for order in ("asc", "desc"):
            ranked = [(r.run_id, r.value) for r in cal.top_k("mode_share_error", k=25, order=order)]
            reference = _queries.ranked_runs(
                Store.of(cal.settings), "calibration", "mode_share_error", 25, order,
                use_index=False,
            )  # fmt: skip
            assert ranked == [(r.run_id, r.value) for r in reference]
    with duckdb.connect(str(db), read_only=True) as con:
        in_order = con.execute("SELECT max(sorted_rows) FROM trackyard_index_meta").fetchone()
        assert in_order == con.execute("SELECT count(*) FROM trackyard_metric").fetchone()
