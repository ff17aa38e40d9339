"""Contract tests of consist: one test per internal listed in ``trackyard._consist``'s docstring.

Each asserts, against the installed consist on a real DuckDB file (no mocks), exactly the
behaviour trackyard relies on, so that a consist upgrade that changes one fails here, loudly,
instead of making trackyard serve wrong hits or lose rows silently. To lift the version cap in
``core/pyproject.toml``: install the new consist, run ``python -m pytest tests/consist_contract``,
and adapt ``trackyard/_consist`` until it passes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import consist
import pytest
from consist import CacheOptions, ExecutionOptions

from trackyard._consist import schema, session
from trackyard._consist.identity import (
    HASH_INPUTS_KEY,
    code_digest,
    config_hash,
    no_inputs_hash,
    one_hash_per_file,
)
from trackyard._consist.merge import Merger
from trackyard._consist.restore import restore
from trackyard._consist.run import WriteFailureWatch
from trackyard._consist.tracker import apply_lock_budget, create_schema, file_checksum
from trackyard._layout import SNAPSHOT_DIR
from trackyard._model import code_identity
from trackyard._store import Store, connect

# --- models (in a file: consist's default code identity hashes the defining module) -------------


def write_output(a: int) -> Path:
    path = Path(consist.output_path("out", "txt"))
    path.write_text(str(a))
    return path


def read_input(inp: Path) -> Path:
    path = Path(consist.output_path("out", "txt"))
    path.write_text(Path(inp).read_text())
    return path


def same_bytes(a: int) -> Path:
    path = Path(consist.output_path("out", "txt"))
    path.write_text("the same bytes")
    return path


def interrupted() -> None:
    raise KeyboardInterrupt


def failing() -> None:
    raise ValueError("boom")


def _db(tracker: Any) -> Any:
    return tracker.metadata_store.db


def _rows(db_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with connect(db_path, read_only=True) as con:
        rows: list[tuple[Any, ...]] = con.execute(sql).fetchall()
        return rows


def _run_with_input(tracker: Any, tmp_path: Path, a: int = 1) -> Any:
    inp = tmp_path / "in.txt"
    inp.write_text("input")
    return tracker.run(
        read_input,
        name="reader",
        model="reader",
        config={"a": a},
        inputs={"inp": inp},
        outputs=["out"],
        facet={"a": a, "nested": {"b": 2.5}},
        execution_options=ExecutionOptions(input_binding="paths"),
    )


# --- 1. the lock budget -----------------------------------------------------------------------


def test_lock_retry_fields(consist_tracker: Any) -> None:
    """consist reads ``_lock_retries``, ``_lock_base_sleep_seconds``, ``_lock_max_sleep_seconds``
    from its DatabaseManager when it retries a locked file: the number of attempts is exactly
    ``_lock_retries`` (so trackyard's ``apply_lock_budget`` bounds the wait)."""
    from sqlalchemy.exc import OperationalError

    db = _db(consist_tracker)
    apply_lock_budget(db, 1.0)
    assert isinstance(db._lock_retries, int) and db._lock_retries >= 2
    assert isinstance(db._lock_base_sleep_seconds, float)
    assert isinstance(db._lock_max_sleep_seconds, float)
    db._lock_retries, db._lock_base_sleep_seconds, db._lock_max_sleep_seconds = 3, 0.0, 0.0
    calls = []

    def locked() -> None:
        calls.append(1)
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    with pytest.raises(OperationalError):
        db.execute_with_retry(locked, operation_name="contract")
    assert len(calls) == 3


# --- 2. the snapshot flush --------------------------------------------------------------------


def test_flush_json_writes_the_snapshot(consist_tracker: Any) -> None:
    """A run-start hook's change to ``run.meta`` reaches ``<run_dir>/consist_runs/<id>.json``
    at once when ``Tracker._flush_json`` is called (consist wrote the snapshot before the
    hook)."""
    seen: dict[str, Any] = {}

    def stamp(run: Any) -> None:
        run.meta = {**(run.meta or {}), "trackyard": {"pid": 123}}
        session.flush_snapshot(consist_tracker)
        path = Path(consist_tracker.run_dir) / SNAPSHOT_DIR / f"{run.id}.json"
        seen["snapshot"] = json.loads(path.read_text())

    assert callable(consist_tracker._flush_json)
    consist_tracker.on_run_start(stamp)
    consist_tracker.run(write_output, name="w", model="w", config={"a": 1}, outputs=["out"])
    assert seen["snapshot"]["run"]["meta"]["trackyard"] == {"pid": 123}


# --- 3. the cache-miss explainer --------------------------------------------------------------


def test_cache_miss_explainer(consist_tracker: Any) -> None:
    """``tracker_lifecycle.CacheMissExplainer`` is what a miss instantiates (replacing it skips
    the explanation), its instances keep the tracker as ``_tracker``, a miss records it under
    ``cache_miss_explanation``, a run with ``cache_mode="overwrite"`` records none, and the
    on-demand explanation is a dict with a ``reason``."""
    from consist.core import tracker_lifecycle
    from consist.core.cache_miss_explainer import CacheMissExplainer

    assert isinstance(tracker_lifecycle.CacheMissExplainer, type)
    assert CacheMissExplainer(consist_tracker)._tracker is consist_tracker
    session.explain_misses(consist_tracker, False)
    try:
        result = consist_tracker.run(write_output, name="w", model="w", config={"a": 1})
        recorded = result.run.meta[session.MISS_EXPLANATION]
        assert recorded == session.unexplained_miss()[session.MISS_EXPLANATION]
        explained = session.explain(consist_tracker, consist_tracker.get_run(result.run.id))
        assert explained["status"] == "miss" and explained["reason"] != session.NOT_EXPLAINED
        # A run whose lookup is skipped (``known_misses``) gets no explanation from consist:
        # trackyard records the same unexplained miss itself.
        skipped = consist_tracker.run(
            write_output,
            name="w",
            model="w",
            config={"a": 2},
            cache_options=CacheOptions(cache_mode="overwrite"),
        )
        assert session.MISS_EXPLANATION not in (skipped.run.meta or {})
    finally:
        session.explain_misses(consist_tracker, True)


# --- 4. the pooled engine for a batch ---------------------------------------------------------


def test_database_engine_swap(consist_tracker: Any) -> None:
    """``metadata_store.db.engine`` is a SQLAlchemy engine with ``NullPool`` that consist looks
    up on every operation: inside ``session.batch`` runs use the pooled engine, and the
    original comes back afterwards."""
    from sqlalchemy.pool import NullPool, QueuePool

    db = _db(consist_tracker)
    original = db.engine
    assert isinstance(original.pool, NullPool)
    with session.batch(consist_tracker):
        assert isinstance(db.engine.pool, QueuePool)
        for a in (1, 2):
            result = consist_tracker.run(write_output, name="w", model="w", config={"a": a})
            assert result.run.status == "completed"
    assert db.engine is original
    assert len(_rows(Path(consist_tracker.db_path), "SELECT id FROM run")) == 2


def test_batch_engine_caches_compiled_statements(consist_tracker: Any) -> None:
    """duckdb_engine's dialect turns SQLAlchemy's compiled-statement cache off (only to silence
    a warning; its statement compiler is PostgreSQL's, which caches): a batch's engine turns it
    on, so the second run of a batch compiles nothing new, and the rows are still right."""
    from duckdb_engine import Dialect
    from sqlalchemy.dialects.postgresql.psycopg2 import PGDialect_psycopg2

    assert Dialect.__dict__.get("supports_statement_cache") is False
    assert PGDialect_psycopg2.__dict__.get("supports_statement_cache") is True
    assert Dialect.statement_compiler is PGDialect_psycopg2.statement_compiler
    db = _db(consist_tracker)
    with session.batch(consist_tracker):
        assert db.engine.dialect._supports_statement_cache is True
        cache = db.engine._compiled_cache
        for a in (1, 2):
            consist_tracker.run(write_output, name="w", model="w", config={"a": a})
        compiled = len(cache)
        assert compiled > 5
        third = consist_tracker.run(write_output, name="w", model="w", config={"a": 3})
        assert len(cache) == compiled  # a run like the last ones compiles nothing new
        hit = consist_tracker.run(write_output, name="w", model="w", config={"a": 3})
    assert (third.cache_hit, hit.cache_hit) == (False, True)
    assert hit.run.meta["cache_source"] == third.run.id
    assert not db.engine.dialect._supports_statement_cache  # consist's own engine: untouched
    assert len(_rows(Path(consist_tracker.db_path), "SELECT id FROM run")) == 4


def test_run_end_writes_share_one_transaction(consist_tracker: Any) -> None:
    """consist's ``session_scope`` reuses the session in ``DatabaseManager._session_ctx``, and
    its ``session.commit()`` on a session joined with ``rollback_only`` leaves the transaction
    open: a run's end writes (content row, artifacts, links, the run's end) land in the
    group's one transaction, committed when the group ends; rolled back (as consist does on a
    failed statement) they are all gone, the run stays ``running``, and consist's in-memory
    content rows (``_artifact_content_cache``) are forgotten."""
    from contextvars import ContextVar

    import sqlalchemy

    from trackyard._consist import writes

    db = _db(consist_tracker)
    assert isinstance(db._session_ctx, ContextVar) and db._session_ctx.get() is None
    assert isinstance(db._artifact_content_cache, dict)
    model = session.lock_free(write_output)
    with session.batch(consist_tracker):
        with writes.grouped(consist_tracker) as group:
            lost = consist_tracker.run(model, name="w", model="w", config={"a": 1})
            shared = db._session_ctx.get()
            with pytest.raises(Exception, match="no_such_table"):
                shared.execute(sqlalchemy.text("SELECT * FROM no_such_table"))
            shared.rollback()  # what consist's session_scope does on a failed statement
        assert group.lost and db._artifact_content_cache == {}
        assert db._session_ctx.get() is None
        with writes.grouped(consist_tracker) as group:
            kept = consist_tracker.run(model, name="w", model="w", config={"a": 2})
            assert db._session_ctx.get() is not None
        assert not group.lost and db._session_ctx.get() is None
    rows = _rows(
        Path(consist_tracker.db_path),
        "SELECT r.id, r.status, count(l.artifact_id) FROM run r LEFT JOIN run_artifact_link l "
        "ON l.run_id = r.id AND l.direction = 'output' GROUP BY r.id, r.status",
    )
    assert sorted(rows) == sorted([(lost.run.id, "running", 0), (kept.run.id, "completed", 1)])


def test_snapshot_writes_go_through_the_instance_writer(consist_tracker: Any) -> None:
    """Every run snapshot consist writes goes through the INSTANCE attribute
    ``persistence._write_record_json(record)``: a run's start and its outputs while
    ``running``, then its end; consist's writer puts ``record.model_dump_json(indent=2)`` in
    ``<run_dir>/consist_runs/<id>.json`` and ``<run_dir>/consist.json``."""
    writer = consist_tracker.persistence
    original = writer._write_record_json
    seen: list[str] = []

    def record_write(record: Any) -> None:
        seen.append(str(record.run.status))
        original(record)

    writer._write_record_json = record_write
    result = consist_tracker.run(write_output, name="w", model="w", config={"a": 1})
    assert seen == ["running", "running", "completed"]
    text = consist_tracker._last_consist.model_dump_json(indent=2)
    run_dir = Path(consist_tracker.run_dir)
    assert (run_dir / SNAPSHOT_DIR / f"{result.run.id}.json").read_text(encoding="utf-8") == text
    assert (run_dir / "consist.json").read_text(encoding="utf-8") == text


# --- 5, 7. file digests ----------------------------------------------------------------------


def test_file_checksum_is_sha256(consist_tracker: Any, tmp_path: Path) -> None:
    """consist's ``full`` digest of a file is its sha256 (``one_hash_per_file`` computes it
    itself), consist calls the INSTANCE attribute ``identity.compute_file_checksum`` (so the
    per-call memo is used), and the tracker-less ``IdentityManager`` agrees."""
    path = tmp_path / "data.bin"
    path.write_bytes(b"x" * 300_000)
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    assert consist_tracker.identity.hashing_strategy == "full"
    assert consist_tracker.identity.compute_file_checksum(path) == expected
    assert file_checksum(tmp_path)(path) == expected
    with one_hash_per_file(consist_tracker):
        memo = consist_tracker.identity.compute_file_checksum
        calls: list[Path] = []

        def counting(file_path: Any) -> str:
            calls.append(Path(file_path))
            return str(memo(file_path))

        consist_tracker.identity.compute_file_checksum = counting
        result = _run_with_input(consist_tracker, tmp_path)
        consist_tracker.identity.compute_file_checksum = memo
    assert "compute_file_checksum" not in vars(consist_tracker.identity)
    assert calls, "consist no longer hashes files through identity.compute_file_checksum"
    inputs = _rows(
        Path(consist_tracker.db_path),
        "SELECT a.hash FROM run_artifact_link l JOIN artifact a ON a.id = l.artifact_id "
        f"WHERE l.direction = 'input' AND l.run_id = '{result.run.id}'",
    )
    assert inputs == [(hashlib.sha256(b"input").hexdigest(),)]


# --- 6. merging shards ------------------------------------------------------------------------


def test_consist_merge_skips_existing_runs(tmp_path: Path) -> None:
    """A shard (a store made by the same consist) merges into the main store through both
    paths: trackyard's one-connection SQL merge and consist's ``DatabaseMaintenance.merge``
    (``conflict="skip"``); merging again adds nothing. A content row the main store already
    had for the same bytes is kept over the shard's, by both paths, and the shard runs'
    snapshots then record the main store's row (``contents.merged``)."""
    from consist import Tracker

    from trackyard._consist import contents
    from trackyard._consist.tracker import run_subdir

    runs = tmp_path / "runs"
    main = Tracker(run_dir=runs, db_path=tmp_path / "main.duckdb", run_subdir_fn=run_subdir)
    main.run(same_bytes, name="m", model="w", config={"a": 0}, facet={"k": 1})
    _db(main).engine.dispose()
    shard_ids = []
    for n in (1, 2):
        shard = Tracker(run_dir=runs, db_path=tmp_path / f"s{n}.duckdb", run_subdir_fn=run_subdir)
        done = shard.run(same_bytes, name="s", model="w", config={"a": n}, facet={"k": 1})
        shard_ids.append(str(done.run.id))
        contents.keep_run(shard, shard_ids[-1])  # the shard's own row, as a worker records it
        _db(shard).engine.dispose()
    merger = Merger(Store(tmp_path / "main.duckdb", runs, 10.0))
    assert merger.merge(tmp_path / "s1.duckdb"), merger.last_error
    merger._consist_merge(tmp_path / "s2.duckdb")  # consist's own path
    merger._consist_merge(tmp_path / "s2.duckdb")
    Store(tmp_path / "main.duckdb", runs, 10.0).write(
        lambda con: merger._kept_contents(con, tmp_path / "s2.duckdb"), what="contract"
    )
    assert merger.merge(tmp_path / "s1.duckdb")
    ids = [r[0] for r in _rows(tmp_path / "main.duckdb", "SELECT id FROM run ORDER BY id")]
    assert len(ids) == 3 and set(shard_ids) <= set(ids)
    links = _rows(tmp_path / "main.duckdb", "SELECT run_id FROM run_artifact_link")
    assert {r[0] for r in links} >= set(shard_ids)
    (row,) = _rows(tmp_path / "main.duckdb", "SELECT id, created_at FROM artifact_content")
    (facet,) = _rows(tmp_path / "main.duckdb", "SELECT created_at FROM config_facet")
    for run_id in shard_ids:
        payload = json.loads(contents.snapshot_path(runs, run_id).read_text())
        (kept,) = contents.recorded(payload)
        assert (kept["id"], kept["created_at"]) == (row[0], row[1].isoformat()), run_id
        assert contents.facet_times(payload)[0] == facet[0].isoformat(), run_id


def test_schema_creation(tmp_path: Path) -> None:
    """``DatabaseManager(path)`` creates consist's tables on a new file (``create_schema``);
    ``skip_schema_init=True`` is accepted (the shard merge's subclass)."""
    from consist.core.persistence import DatabaseManager

    db_path = tmp_path / "new.duckdb"
    create_schema(Store(db_path, tmp_path / "runs", 10.0))
    tables = {r[0] for r in _rows(db_path, "SELECT table_name FROM duckdb_tables()")}
    assert {"run", "artifact", "run_artifact_link", "config_facet", "run_config_kv"} <= tables
    DatabaseManager(str(db_path), skip_schema_init=True).engine.dispose()


# --- 8. the run in memory ---------------------------------------------------------------------


def test_cached_run_at_run_start(consist_tracker: Any) -> None:
    """At run start of a cache hit, ``current_consist.cached_run`` is the reused run and
    ``run.meta["cache_source"]`` names it (trackyard copies its metrics into the hit)."""
    first = consist_tracker.run(write_output, name="w", model="w", config={"a": 1})
    seen: dict[str, Any] = {}

    def hook(run: Any) -> None:
        cached = consist_tracker.current_consist.cached_run
        seen["cached"] = None if cached is None else cached.id
        seen["source"] = (run.meta or {}).get("cache_source")

    consist_tracker.on_run_start(hook)
    second = consist_tracker.run(write_output, name="w", model="w", config={"a": 1})
    assert second.cache_hit and second.run.id != first.run.id
    assert seen == {"cached": first.run.id, "source": first.run.id}


def test_end_run_closes_an_interrupted_run(consist_tracker: Any) -> None:
    """A ``KeyboardInterrupt`` in the model leaves ``current_consist`` open; ``end_run(
    status="failed", error=...)`` records it failed and the tracker runs again."""
    with pytest.raises(KeyboardInterrupt):
        consist_tracker.run(interrupted, name="i", model="i", config={})
    record = consist_tracker.current_consist
    assert record is not None
    run_id = record.run.id
    consist_tracker.end_run(status="failed", error=RuntimeError("interrupted"))
    assert consist_tracker.current_consist is None
    assert consist_tracker.get_run(run_id).status == "failed"
    assert consist_tracker.run(write_output, name="w", model="w", config={"a": 1}).run.status == (
        "completed"
    )


# --- 9. the batch cache key -------------------------------------------------------------------


def test_batch_cache_key_equals_recorded_config_hash(consist_tracker: Any, tmp_path: Path) -> None:
    """The pre-check's key (``identity.config_hash``), code digest and no-inputs hash equal
    the ``config_hash``, ``git_hash`` and ``input_hash`` consist records for a real run with
    identity inputs and a cache epoch; the identity digests are folded into the config under
    ``__consist_hash_inputs__``."""
    keyed = tmp_path / "keyed.txt"
    keyed.write_text("keyed content")
    config = {"a": 3, "nested": {"x": [1, 2.5, "s"]}}
    mode = code_identity(write_output, None)
    result = consist_tracker.run(
        write_output,
        name="w",
        model="model-x",
        config=dict(config),
        identity_inputs=[("keyed", keyed)],
        outputs=["out"],
        cache_options=CacheOptions(cache_epoch=4, code_identity=mode),
    )
    run = result.run
    assert run.config_hash == config_hash(
        consist_tracker, config, [("keyed", keyed)], model="model-x", cache_epoch=4
    )
    assert run.git_hash == code_digest(consist_tracker, mode, write_output)
    assert run.input_hash == no_inputs_hash(consist_tracker)
    recorded = consist_tracker.get_run_config(run.id)
    assert set(recorded[HASH_INPUTS_KEY]) == {"keyed"}


# --- 10. restoring rows from snapshots --------------------------------------------------------

_RESTORED = {
    "run": "SELECT id, status, model_name, config_hash, git_hash, input_hash, meta FROM run",
    "artifact": "SELECT id, key, container_uri, hash, driver, run_id FROM artifact",
    "run_artifact_link": "SELECT run_id, artifact_id, direction FROM run_artifact_link",
    "config_facet": "SELECT id, namespace, schema_name, json FROM config_facet",
    "run_config_kv": (
        "SELECT run_id, facet_id, namespace, key, value_type, value_str, value_num, value_bool "
        "FROM run_config_kv"
    ),
}


def test_restore_rebuilds_the_rows_consist_wrote(consist_tracker: Any, tmp_path: Path) -> None:
    """From the JSON snapshots alone, ``restore`` rebuilds the rows consist wrote (run,
    artifact, links, config facet and its flattened keys) into a fresh store."""
    _run_with_input(consist_tracker, tmp_path)
    consist_tracker.run(write_output, name="w", model="w", config={"a": 2}, outputs=["out"])
    _db(consist_tracker).engine.dispose()
    original = Path(consist_tracker.db_path)
    fresh = tmp_path / "fresh.duckdb"
    run_dir = Path(consist_tracker.run_dir)
    create_schema(Store(fresh, run_dir, 10.0))
    payloads = [json.loads(p.read_text()) for p in sorted((run_dir / SNAPSHOT_DIR).glob("*.json"))]
    errors: list[str] = []
    assert len(restore(Store(fresh, run_dir, 10.0), payloads, errors)) == 2, errors
    for table, sql in _RESTORED.items():
        before = sorted(map(repr, _rows(original, sql)))
        after = sorted(map(repr, _rows(fresh, sql)))
        assert before and after == before, table


def test_recreated_snapshot_matches_the_one_consist_wrote(
    consist_tracker: Any, tmp_path: Path
) -> None:
    """A snapshot ``recreate`` writes from the DB rows carries the run, its inputs and its
    outputs exactly as consist's own snapshot did (only ``config`` and ``facet``, which the
    store does not keep, are empty, and ``meta`` says it was re-created)."""
    from trackyard._consist.snapshot import RECREATED, recreate
    from trackyard._layout import STAMP

    result = _run_with_input(consist_tracker, tmp_path)
    _db(consist_tracker).engine.dispose()
    run_dir = Path(consist_tracker.run_dir)
    path = run_dir / SNAPSHOT_DIR / f"{result.run.id}.json"
    original = json.loads(path.read_text())
    path.unlink()
    errors: list[str] = []
    store = Store(Path(consist_tracker.db_path), run_dir, 10.0)
    assert recreate(store, [result.run.id], errors) == [result.run.id], errors
    again = json.loads(path.read_text())
    assert again["run"]["meta"].pop(STAMP)[RECREATED]
    original["run"]["meta"].pop(STAMP, None)
    for key in ("run", "inputs", "outputs"):
        assert again[key] == original[key], key
    assert again["config"] == {} and original["config"]


# --- 15. the store's content rows kept in the snapshots ------------------------------------


def test_snapshot_keeps_the_stores_content_rows(consist_tracker: Any, tmp_path: Path) -> None:
    """consist records one ``artifact_content`` row (``id``, ``content_hash``, ``driver``,
    ``created_at``, ``meta``) per hash and driver, shared by every artifact with those bytes;
    its snapshot names only the row's id, and its last write of a run's snapshot happens
    before ``Tracker.run`` returns (``contents.keep_run`` then adds the row under
    ``trackyard``, and consist never writes over it); consist reads a snapshot carrying that
    key; ``restore`` rebuilds every content row from the snapshots, to the microsecond."""
    from consist.models.run import ConsistRecord

    from trackyard._consist import contents

    ids = []
    with session.batch(consist_tracker):
        for a in (1, 2):
            result = consist_tracker.run(same_bytes, name="s", model="s", config={"a": a})
            contents.keep_run(consist_tracker, str(result.run.id))
            ids.append(str(result.run.id))
    result = _run_with_input(consist_tracker, tmp_path)  # outside a batch: consist's NullPool
    contents.keep_run(consist_tracker, str(result.run.id))
    _db(consist_tracker).engine.dispose()
    run_dir = Path(consist_tracker.run_dir)
    original = Path(consist_tracker.db_path)
    table = _rows(original, "SELECT * FROM artifact_content ORDER BY content_hash")
    columns = _rows(original, "SELECT column_name FROM duckdb_columns() WHERE table_name = "
                    "'artifact_content' ORDER BY column_index")  # fmt: skip
    assert [c for (c,) in columns] == ["id", "content_hash", "driver", "created_at", "meta"]
    payloads = [json.loads(contents.snapshot_path(run_dir, r).read_text()) for r in ids]
    kept = [contents.recorded(p) for p in payloads]
    assert kept[0] == kept[1] and kept[0] is not None and len(kept[0]) == 1  # one shared row
    assert kept[0][0]["id"] == payloads[0]["outputs"][0]["content_id"]
    assert ConsistRecord.model_validate(payloads[0]).run.id == ids[0]
    fresh = tmp_path / "fresh.duckdb"
    create_schema(Store(fresh, run_dir, 10.0))
    everything = [
        json.loads(p.read_text()) for p in sorted((run_dir / SNAPSHOT_DIR).glob("*.json"))
    ]
    assert len(restore(Store(fresh, run_dir, 10.0), everything, [])) == 3
    assert _rows(fresh, "SELECT * FROM artifact_content ORDER BY content_hash") == table


# --- 11. swallowed write failures -------------------------------------------------------------

_HOLDER = textwrap.dedent(
    """
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    print("held", flush=True)
    time.sleep(60)
    """
)


def test_swallowed_write_failure_is_logged_from_persistence(consist_tracker: Any) -> None:
    """When another process holds the DB, a run still returns completed and consist only
    logs warnings, from ``consist/core/persistence.py`` or ``db_runtime.py`` (what
    ``WriteFailureWatch`` looks for)."""
    apply_lock_budget(_db(consist_tracker), 0.3)
    session.explain_misses(consist_tracker, False)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(consist_tracker.db_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        logging.getLogger().setLevel(logging.WARNING)
        watch = WriteFailureWatch()
        try:
            result = consist_tracker.run(write_output, name="w", model="w", config={"a": 9})
        finally:
            watch.close()
            session.explain_misses(consist_tracker, True)
    finally:
        holder.kill()
        holder.wait()
    assert result.run.status == "completed"
    assert watch._failed, "consist no longer logs swallowed DB writes from persistence.py"
    time.sleep(0.1)
    rows = _rows(Path(consist_tracker.db_path), f"SELECT id FROM run WHERE id = '{result.run.id}'")
    assert rows == []  # the write really was lost: trackyard's read-back is needed


# --- 12, 13. data layout ----------------------------------------------------------------------


def test_snapshot_layout(consist_tracker: Any, tmp_path: Path) -> None:
    """``<run_dir>/consist_runs/<run id>.json`` holds ``run``, ``inputs``, ``outputs``,
    ``facet`` and ``config``, and the run meta names its config facet."""
    result = _run_with_input(consist_tracker, tmp_path)
    path = Path(consist_tracker.run_dir) / SNAPSHOT_DIR / f"{result.run.id}.json"
    payload = json.loads(path.read_text())
    assert {"run", "inputs", "outputs", "facet", "config"} <= set(payload)
    assert payload["run"]["id"] == result.run.id
    assert payload["config"] == {"a": 1}
    assert [a["key"] for a in payload["outputs"]] == ["out"]
    assert [a["key"] for a in payload["inputs"]] == ["inp"]
    meta = payload["run"]["meta"]
    assert meta["config_facet_id"] and meta["config_facet_namespace"] == "reader"
    assert meta["config_facet_schema"] == "dict"


def test_tables_and_columns(consist_tracker: Any, tmp_path: Path) -> None:
    """Every SQL text of ``_consist.schema`` runs against a store consist made (so every table
    and column it names exists), and returns rows of its named row type's width."""
    _run_with_input(consist_tracker, tmp_path)
    _db(consist_tracker).engine.dispose()
    db_path = Path(consist_tracker.db_path)
    named = {
        schema.TOP_K_SQL.format(order="ASC"): ({"path": "$.metrics.m", "domain": "d", "k": 3}, 3),
        schema.RUNS_SQL: ({"domain": "d"}, len(schema.RunRow._fields)),
        schema.LAST_STATUS_SQL: ({"domain": "d"}, 1),
        schema.RUN_STATUS_SQL: (["x"], 1),
        schema.RUN_STATUSES_SQL: ([], 2),
        schema.COUNT_RUNS_SQL: ([], 1),
        schema.PLUGIN_SETS_SQL: ([], 2),
        schema.UNDECLARED_SQL: ([], 3),
        schema.CACHED_SQL: ({"git": "g", "inputs": "i", "hashes": ["h"]}, 3),
        schema.CACHED_NAMED_INPUTS_SQL: ({"git": "g", "hashes": ["h"]}, 3),
        schema.OUTPUTS_SQL: ({"ids": ["x"]}, len(schema.OutputUri._fields)),
        schema.REPORT_RUNS_SQL: ({"domain": "d"}, len(schema.ReportRun._fields)),
        schema.RUN_ROW_SQL: ({"id": "x"}, 10),
        schema.MODEL_RUNS_SQL: ({"model": "m", "domain": "d", "before": "", "limit": 5}, 10),
        schema.REPORT_LINKS_SQL: (["d"], len(schema.ReportLink._fields)),
        schema.REPORT_DOMAINS_SQL: ([], 2),
        schema.CONTENT_ROWS_SQL: ({"hashes": ["h"]}, 5),
        schema.FACET_TIMES_SQL: ({"facet": "f", "run": "r"}, 3),
    }
    with connect(db_path, read_only=True) as con:
        for sql, (params, width) in named.items():
            cursor = con.execute(sql, params)
            assert len(cursor.description) == width, sql
    with connect(db_path) as con:
        con.execute(f"CREATE TABLE {schema.RUN_INDEX_TABLE} (run_id VARCHAR, created_at TIMESTAMP)")
        con.execute(schema.INDEX_COUNTS_SQL).fetchall()
        con.execute(schema.NEW_RUNS_SQL.format(new=schema.NEW_RUNS_ANY)).fetchall()
        assert con.execute("SELECT count(*) FROM trackyard_new_runs").fetchone() == (1,)
        con.execute(schema.NEW_RUNS_SQL.format(new=schema.NEW_RUNS_SINCE)).fetchall()
        con.execute(schema.MARK_INTERRUPTED_SQL)


def test_meta_keys(consist_tracker: Any, tmp_path: Path) -> None:
    """The run meta keys trackyard reads: ``_physical_run_dir`` (the run folder outputs are
    relative to), ``error`` (a failed run's message), ``cache_source`` (a hit's reused run);
    every call, hits included, writes its own row; consist's own config keys start with
    ``__consist``."""
    first = consist_tracker.run(
        write_output,
        name="w",
        model="w",
        config={"a": 1},
        outputs=["out"],
        identity_inputs=[("k", Path(__file__))],
    )
    hit = consist_tracker.run(
        write_output,
        name="w",
        model="w",
        config={"a": 1},
        outputs=["out"],
        identity_inputs=[("k", Path(__file__))],
    )
    with pytest.raises(ValueError):
        consist_tracker.run(failing, name="f", model="f", config={})
    _db(consist_tracker).engine.dispose()
    db_path = Path(consist_tracker.db_path)
    rows = _rows(
        db_path,
        f"SELECT id, json_extract_string(meta, '{schema.PHYSICAL_RUN_DIR_PATH}'), "
        f"json_extract_string(meta, '{schema.ERROR_PATH}'), "
        "json_extract_string(meta, '$.cache_source') FROM run",
    )
    by_id = {r[0]: r[1:] for r in rows}
    assert len(by_id) == 3
    assert by_id[first.run.id][0] == str(consist_tracker.run_dir)
    assert by_id[hit.run.id][2] == first.run.id
    assert [r[1] for r in by_id.values() if r[1]] == ["boom"]
    config = consist_tracker.get_run_config(first.run.id)
    assert [k for k in config if k.startswith(schema.CONFIG_PREFIX)] == [HASH_INPUTS_KEY]


def test_every_listed_internal_has_its_contract_test() -> None:
    """The adapter's docstring and this module name the same tests (``[test_...]``)."""
    import re

    import trackyard._consist

    listed = set(re.findall(r"[\[ ](test_\w+)[,\]]", trackyard._consist.__doc__ or ""))
    here = {name for name in globals() if name.startswith("test_")}
    assert listed and listed <= here, sorted(listed - here)
    assert here - listed == {"test_every_listed_internal_has_its_contract_test"}
