"""The metrics index: recorded metrics as typed rows, so a ranking never parses run JSON.

Two tables in the store, beside consist's, derived entirely from ``run`` rows:

* ``trackyard_run_index``: one row per run that is no longer ``running`` (run id, domain, run
  name, status, executed or cache hit, created_at);
* ``trackyard_metric``: one row per (run, metric) with the value as a DOUBLE (the same
  ``TRY_CAST(json_extract(meta, '$.metrics."m"') AS DOUBLE)`` the JSON query used), and the
  run's columns repeated so a top-k reads one table.

The index is kept in step where runs arrive in bulk (a sweep's shard merge indexes the runs it
brings right after copying them, ``index_merged``; bundle imports and ``doctor --fix`` catch up)
and reconciled, never written inside a run: before a ranking answers, a cheap check (how many
finished runs the store holds against how many the index holds) says whether runs were added
by any other means (serial runs, consist used directly, another tool); if so the missing runs
are indexed first (those created since the newest indexed run, then, when some are still
missing, an anti-join on every run id; only the new runs' JSON is parsed, once, and their
metric names read in one multi-path extraction). A store without the tables (an older
version's) gets them built then. When the index holds runs the store no longer has, or
statuses changed behind it, it is rebuilt; ``rebuild`` does that on demand (``reconcile``,
``doctor --fix``).

The metric rows are kept physically ordered by (domain, metric, value): DuckDB's top-N then
skips, by the min/max it keeps per row group, every group that cannot hold one of the ``k``
best values, so a ranking over a million runs reads a few row groups (measured in
``bench/bench_suite.py --only topk``). New rows are inserted in that order; a batch of at least
a row group keeps its own zone maps, smaller ones form an unsorted tail, and once that tail
exceeds a tenth of the table (and 10,000 rows), the table is rewritten in order, inside the
same transaction (``trackyard_index_meta`` remembers how many rows are in order).

Rankings keep the JSON query's semantics exactly: executed, completed runs of the domain; NaN,
unparsable and missing values last in both orders; ties by created_at, then run id.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from trackyard._consist.schema import (
    INDEX_COUNTS_SQL,
    NEW_METRIC_KEYS_SQL,
    NEW_RUNS_ANY,
    NEW_RUNS_SHARD,
    NEW_RUNS_SINCE,
    NEW_RUNS_SQL,
    RECORDED_METRICS_SQL,
    RUN_INDEX_TABLE,
)
from trackyard._store import connect, read_only_query, transaction, with_lock_retry
from trackyard.errors import StoreReadOnlyError, StoreUnavailableError

T = TypeVar("T")

RUN_TABLE = RUN_INDEX_TABLE
METRIC_TABLE = "trackyard_metric"
META_TABLE = "trackyard_index_meta"
_RESORT_MIN = 10_000  # an unsorted tail smaller than this (or a tenth of the table) stays
# DuckDB's rows per row group: a batch at least this big, inserted in order, keeps zone maps of
# its own (its min/max per group are narrow), so it counts as in order without a rewrite.
_ROW_GROUP = 122_880
# Up to this many distinct metric names, each run's metrics are read with one multi-path
# extraction; past it (names generated per run), one extraction per name the run holds.
_KEYS_AT_ONCE = 64
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")  # the names a query can ask for

_CREATE_SQL = (
    f"CREATE TABLE IF NOT EXISTS {RUN_TABLE} (run_id VARCHAR, domain VARCHAR, name VARCHAR, "
    "status VARCHAR, executed BOOLEAN, created_at TIMESTAMP)",
    f"CREATE TABLE IF NOT EXISTS {METRIC_TABLE} (run_id VARCHAR, domain VARCHAR, name VARCHAR, "
    "status VARCHAR, executed BOOLEAN, created_at TIMESTAMP, metric VARCHAR, value DOUBLE)",
    f"CREATE TABLE IF NOT EXISTS {META_TABLE} (sorted_rows BIGINT)",
)
_SORT_SQL = (
    f"CREATE OR REPLACE TABLE {METRIC_TABLE} AS "
    f"SELECT * FROM {METRIC_TABLE} ORDER BY domain, metric, value"
)

_HAS_TABLES_SQL = (
    "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
    f"AND schema_name = 'main' AND table_name IN ('{RUN_TABLE}', '{METRIC_TABLE}')"
)

_INSERT_RUNS_SQL = f"""
INSERT INTO {RUN_TABLE}
SELECT id, domain, name, status, executed, created_at FROM trackyard_new_runs
"""

_METRIC_ORDER = "ORDER BY domain, metric, value"

# Only metric names a query can ask for (identifiers) are indexed; their JSON path is then safe.
# The general form: the run's keys, one extraction each (a path built per row is parsed per row).
_INSERT_METRICS_SQL = f"""
INSERT INTO {METRIC_TABLE}
SELECT n.id, n.domain, n.name, n.status, n.executed, n.created_at, k.key AS metric,
       TRY_CAST(json_extract(n.metrics, '$."' || k.key || '"') AS DOUBLE) AS value
FROM trackyard_new_runs n, unnest(json_keys(n.metrics)) AS k(key)
WHERE json_type(n.metrics) = 'OBJECT'
  AND regexp_full_match(k.key, '[A-Za-z_][A-Za-z0-9_]{{0,63}}')
{_METRIC_ORDER}
"""


def _insert_metrics_sql(keys: Sequence[str]) -> str:
    """The usual form, the new runs' metric names known (identifiers, checked by the query
    that found them): every path read in one extraction per run, a row per name present (a
    JSON ``null`` is present; a missing name gives SQL NULL). Twenty times the general form's
    speed over a million runs."""
    names = ", ".join(f"'{k}'" for k in keys)
    paths = ", ".join(f"""'$."{k}"'""" for k in keys)
    return f"""
INSERT INTO {METRIC_TABLE}
SELECT id, domain, name, status, executed, created_at, metric, TRY_CAST(j AS DOUBLE) AS value
FROM (SELECT n.id, n.domain, n.name, n.status, n.executed, n.created_at,
             unnest([{names}]) AS metric, unnest(json_extract(n.metrics, [{paths}])) AS j
      FROM trackyard_new_runs n WHERE json_type(n.metrics) = 'OBJECT')
WHERE j IS NOT NULL
{_METRIC_ORDER}
"""


# {order} is ASC or DESC from _validate.ORDERS, never the user's text.
_FINITE_SQL = f"""
SELECT run_id, name, value FROM {METRIC_TABLE}
WHERE domain = $domain AND metric = $metric AND executed AND status = 'completed'
  AND value IS NOT NULL AND NOT isnan(value)
ORDER BY value {{order}}, created_at, run_id
LIMIT $k
"""

# The runs ranked last in both orders: NaN, unparsable or missing values, oldest first.
_LAST_SQL = f"""
SELECT i.run_id, i.name, m.value FROM {RUN_TABLE} i
LEFT JOIN {METRIC_TABLE} m ON m.run_id = i.run_id AND m.metric = $metric
WHERE i.domain = $domain AND i.executed AND i.status = 'completed'
  AND (m.value IS NULL OR isnan(m.value))
ORDER BY i.created_at, i.run_id
LIMIT $k
"""


def _is_current(con: Any) -> bool:
    if not _has_tables(con):
        return False
    finished, indexed = con.execute(INDEX_COUNTS_SQL).fetchone()
    return bool(finished == indexed)


def _index_new(con: Any, new: str) -> int:
    """Index the finished runs ``new`` (a ``NEW_RUNS_*`` condition) selects; how many. Metric
    rows go in in (domain, metric, value) order."""
    con.execute(NEW_RUNS_SQL.format(new=new))
    added = int(con.execute("SELECT count(*) FROM trackyard_new_runs").fetchone()[0])
    if added:
        con.execute(_INSERT_RUNS_SQL)
        found = (str(r[0]) for r in con.execute(NEW_METRIC_KEYS_SQL).fetchall())
        keys = [k for k in found if _NAME.fullmatch(k)]  # written into SQL: checked twice
        if len(keys) > _KEYS_AT_ONCE:
            con.execute(_INSERT_METRICS_SQL)
        elif keys:
            con.execute(_insert_metrics_sql(keys))
    con.execute("DROP TABLE trackyard_new_runs")
    return added


def _counts_agree(con: Any) -> bool:
    finished, indexed = con.execute(INDEX_COUNTS_SQL).fetchone()
    return bool(finished == indexed)


def _has_tables(con: Any) -> bool:
    return bool(con.execute(_HAS_TABLES_SQL).fetchone()[0] == 2)


def _catch_up(con: Any) -> int:
    """Create the tables if needed and index every finished run not yet indexed (runs created
    since the newest indexed one first, then, if some are still missing, every run id is
    compared); rebuild when the index holds runs the store lost. Returns how many runs were
    indexed."""
    with transaction(con):
        for sql in _CREATE_SQL:
            con.execute(sql)
        before = _metric_rows(con)
        # An empty index takes every finished run at once (no timestamp or id compared).
        added = _index_new(con, NEW_RUNS_SINCE if _indexed_runs(con) else "")
        if not _counts_agree(con):
            added += _index_new(con, NEW_RUNS_ANY)
        if not _counts_agree(con):  # rows deleted or statuses changed behind the index
            con.execute(f"DELETE FROM {RUN_TABLE}")
            con.execute(f"DELETE FROM {METRIC_TABLE}")
            con.execute(f"DELETE FROM {META_TABLE}")
            before, added = 0, _index_new(con, "")
        if added:
            _keep_sorted(con, before)
    # Fold the write-ahead log into the file now: every later read-only open would replay it.
    con.execute("CHECKPOINT")
    return added


def index_merged(con: Any) -> None:
    """Right after a shard merge, in a transaction on its connection (the shard ATTACHed as
    ``shard``): index the runs the shard brought, so the first ranking after a sweep finds the
    index current and only reads. A store without the index tables gets them here, with every
    finished run."""
    for sql in _CREATE_SQL:
        con.execute(sql)
    before = _metric_rows(con)
    if _index_new(con, NEW_RUNS_SHARD if _indexed_runs(con) else ""):
        _keep_sorted(con, before)


def _indexed_runs(con: Any) -> int:
    return int(con.execute(f"SELECT count(*) FROM {RUN_TABLE}").fetchone()[0])


def _metric_rows(con: Any) -> int:
    return int(con.execute(f"SELECT count(*) FROM {METRIC_TABLE}").fetchone()[0])


def _keep_sorted(con: Any, before: int) -> None:
    """Keep the metric rows ranked fast after rows were added (``before``: rows until then).

    The rows counted in order (``trackyard_index_meta``) are those of sorted stretches at
    least a row group long: the table once rewritten in order, and each batch that big
    (inserted in order, so its zone maps are its own). The table is rewritten in (domain,
    metric, value) order when the rest grew past a tenth of it and ``_RESORT_MIN`` rows.
    """
    total = _metric_rows(con)
    found = con.execute(f"SELECT max(sorted_rows) FROM {META_TABLE}").fetchone()[0]
    in_order = min(int(found or 0), before)
    if total - before >= _ROW_GROUP:
        in_order += total - before
    if total - in_order > max(_RESORT_MIN, total // 10):
        con.execute(_SORT_SQL)
        in_order = total
    if in_order != found:
        con.execute(f"DELETE FROM {META_TABLE}")
        con.execute(f"INSERT INTO {META_TABLE} VALUES ({in_order})")


def _rank(con: Any, domain: str, metric: str, k: int, order: str) -> list[tuple[Any, ...]]:
    params: dict[str, Any] = {"domain": domain, "metric": metric, "k": k}
    rows: list[tuple[Any, ...]] = con.execute(_FINITE_SQL.format(order=order), params).fetchall()
    if len(rows) < k:
        rows += con.execute(_LAST_SQL, {**params, "k": k - len(rows)}).fetchall()
    return rows


def rank_on(con: Any, domain: str, metric: str, k: int, order: str) -> list[tuple[Any, ...]] | None:
    """``top_from_index`` on an open connection; None when the index is not current."""
    return _rank(con, domain, metric, k, order) if _is_current(con) else None


def _from_current(
    db_path: Path, what: str, timeout: float, answer: Callable[[Any], T]
) -> tuple[T] | None:
    """``answer(con)`` on a current index: on a read-only connection when it already is, else
    after catching up; None when it lags and the store cannot be written (read-only mount)."""

    def read() -> tuple[T] | None:
        with connect(db_path, read_only=True, external_access=False) as con:
            return (answer(con),) if _is_current(con) else None

    def update_and_read() -> tuple[T]:
        with connect(db_path, read_only=False, external_access=False) as con:
            _catch_up(con)
            return (answer(con),)

    found = with_lock_retry(read, db_path, what, timeout)
    if found is None:
        try:
            found = with_lock_retry(update_and_read, db_path, what, timeout)
        except StoreReadOnlyError:
            return None
    return found


def top_from_index(
    db_path: Path, domain: str, metric: str, k: int, order: str, *, timeout: float
) -> list[tuple[Any, ...]] | None:
    """(run id, name, value) of the ``k`` best executed runs of ``domain`` by ``metric``
    (validated by the caller; ``order`` is ``ASC`` or ``DESC``), read from the index, which is
    brought up to date first when the store holds runs it lacks; None when it lags and the
    store cannot be written (the caller then parses the runs' JSON)."""
    if not db_path.is_file():
        raise StoreUnavailableError(f"top_k({metric!r}): the store {db_path} does not exist")
    found = _from_current(
        db_path, f"top_k({metric!r})", timeout, lambda con: _rank(con, domain, metric, k, order)
    )
    return None if found is None else found[0]


def catch_up(db_path: Path, *, timeout: float) -> int:
    """Index the finished runs the index lacks (building it when absent); how many."""

    def run() -> int:
        with connect(db_path, read_only=False, external_access=False) as con:
            return _catch_up(con)

    return with_lock_retry(run, db_path, "updating the metrics index", timeout)


def rebuild(db_path: Path, *, timeout: float) -> int:
    """Drop the index and build it again from every run's metadata; how many runs it holds."""

    def run() -> int:
        with connect(db_path, read_only=False, external_access=False) as con:
            for table in (RUN_TABLE, METRIC_TABLE, META_TABLE):
                con.execute(f"DROP TABLE IF EXISTS {table}")
            return _catch_up(con)

    return with_lock_retry(run, db_path, "rebuilding the metrics index", timeout)


def domain_metrics(db_path: Path, domain: str, *, timeout: float) -> list[str]:
    """The metric names the runs of ``domain`` recorded, sorted (from the index, brought up to
    date first; from the runs' JSON when it lags on a store that cannot be written)."""

    def indexed(con: Any) -> list[str]:
        rows = con.execute(
            f"SELECT DISTINCT metric FROM {METRIC_TABLE} WHERE domain = $domain ORDER BY metric",
            {"domain": domain},
        ).fetchall()
        return [str(r[0]) for r in rows]

    what = "listing the recorded metrics"
    found = _from_current(db_path, what, timeout, indexed)
    if found is not None:
        return found[0]
    rows = read_only_query(
        db_path, RECORDED_METRICS_SQL, {"domain": domain}, timeout=timeout, what=what
    )
    return [str(r[0]) for r in rows]


def indexed_metrics(db_path: Path, *, timeout: float) -> Sequence[tuple[Any, ...]]:
    """Every index row (run id, metric, value), for checks and tests."""

    def run() -> list[tuple[Any, ...]]:
        with connect(db_path, read_only=True, external_access=False) as con:
            rows: list[tuple[Any, ...]] = con.execute(
                f"SELECT run_id, metric, value FROM {METRIC_TABLE} ORDER BY run_id, metric"
            ).fetchall()
            return rows

    return with_lock_retry(run, db_path, "reading the metrics index", timeout)
