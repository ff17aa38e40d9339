"""Every SQL text trackyard runs against consist's tables, and the functions that run them.

Every user value is bound as a parameter. The only words formatted into SQL text are constants:
JSON paths and keys from ``_layout``, the ORDER keyword from ``_validate.ORDERS``, and (for the
shard merge) table and column names read from the shard's own catalogue, quoted.

Every query runs through the store access layer (``_store.Store``): a short-lived read-only
DuckDB connection with external access disabled, with the common lock wait and error types.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trackyard import _metrics_index
from trackyard._layout import (
    CACHE_SOURCE_PATH,
    DOMAIN_PATH,
    METRICS_PATH,
    PLUGIN_SET_PATH,
    RUN_NAME_PATH,
    UNDECLARED_PATH,
    metric_path,
)
from trackyard._store import Store, quote_identifier, read_only_query
from trackyard._validate import check_query

# --- ranking ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankedRun:
    """One run in a ranking: its id, name, metric value (NaN or None when missing)."""

    run_id: str
    name: str | None
    value: float | None


# {order} is ASC or DESC from _validate.ORDERS, never the user's text.
_TOP_K_SQL = f"""
WITH ranked AS (
    SELECT id, json_extract_string(meta, '{RUN_NAME_PATH}') AS name,
           TRY_CAST(json_extract(meta, $path) AS DOUBLE) AS value,
           created_at
    FROM run
    WHERE status = 'completed'
      AND json_extract_string(meta, '{DOMAIN_PATH}') = $domain
      AND json_extract(meta, '{CACHE_SOURCE_PATH}') IS NULL
)
SELECT id, name, value FROM ranked
ORDER BY (value IS NULL OR isnan(value)), value {{order}}, created_at, id
LIMIT $k
"""


def top_k(
    store: Store,
    domain: str,
    metric: object,
    k: object = 5,
    order: object = "asc",
    *,
    use_index: bool = True,
) -> list[RankedRun]:
    """The ``k`` best executed runs of ``domain`` by ``metric``; NaN and missing values last.

    The ranking reads the metrics index (``_metrics_index``, brought up to date first) on a
    short-lived DuckDB connection with external access disabled; ``use_index=False`` parses
    every run's JSON metadata instead (the reference the index is tested against). A busy store
    is waited for, then raises ``StoreUnavailableError`` instead of answering [].
    """
    metric, k, keyword = check_query(metric, k, order)
    sql = _TOP_K_SQL.format(order=keyword)
    params = {"path": metric_path(metric), "domain": domain, "k": k}
    if use_index:
        rows: Sequence[Any] = _metrics_index.top_k(
            store.db_path, domain, metric, k, keyword, timeout=store.timeout
        )
    else:
        rows = store.query(sql, params, what=f"top_k({metric!r})")
    return [RankedRun(str(r[0]), r[1], None if r[2] is None else float(r[2])) for r in rows]


# --- listing and statuses -----------------------------------------------------------------------

# A cache hit's source, followed to the run that executed: stores written before hits were
# stamped `source_executed` hold chains (a hit naming an earlier hit), since consist matches a
# lookup against hit rows too.
# Bounded: a chain longer than MAX_CHAIN hops (or a cycle) stops there.
MAX_CHAIN = 64
_EXECUTOR_CTE = f"""
RECURSIVE hops(id, source, depth) AS (
    SELECT id, json_extract_string(meta, '{CACHE_SOURCE_PATH}'), 1 FROM run
    WHERE json_extract_string(meta, '{DOMAIN_PATH}') = $domain
      AND json_extract_string(meta, '{CACHE_SOURCE_PATH}') IS NOT NULL
    UNION ALL
    SELECT hops.id, json_extract_string(r.meta, '{CACHE_SOURCE_PATH}'), hops.depth + 1
    FROM hops JOIN run r ON r.id = hops.source
    WHERE json_extract_string(r.meta, '{CACHE_SOURCE_PATH}') IS NOT NULL
      AND hops.depth < {MAX_CHAIN}
),
executor AS (SELECT id, arg_max(source, depth) AS source FROM hops GROUP BY id)
"""

# Ordered by run.created_at, the column: the bare name would be the seconds-only text alias, and
# runs made within one second would come out in run-id order.
_RUNS_SQL = f"""
WITH {_EXECUTOR_CTE}
SELECT run.id,
       json_extract_string(meta, '{RUN_NAME_PATH}') AS name,
       status,
       strftime(created_at, '%Y-%m-%d %H:%M:%S') AS created_at,
       executor.source AS cache_source,
       CAST(json_extract(meta, '{METRICS_PATH}') AS VARCHAR) AS metrics
FROM run LEFT JOIN executor ON executor.id = run.id
WHERE json_extract_string(meta, '{DOMAIN_PATH}') = $domain
ORDER BY run.created_at, run.id
"""


def domain_runs(store: Store, domain: str) -> list[Any]:
    """Every run of ``domain``, oldest first: (id, name, status, created_at, cache_source (the
    run that executed, through any chain of hits), metrics JSON)."""
    return store.query(_RUNS_SQL, {"domain": domain}, what=f"listing the runs of {domain!r}")


_LAST_STATUS_SQL = f"""
SELECT status FROM run WHERE json_extract_string(meta, '{DOMAIN_PATH}') = $domain
ORDER BY created_at DESC, id DESC LIMIT 1
"""


def last_status(store: Store, domain: str) -> str | None:
    """The status of the latest run of ``domain`` (None when it has none)."""
    rows = store.query(_LAST_STATUS_SQL, {"domain": domain}, what="the latest run's status")
    return str(rows[0][0]) if rows else None


def recorded_status(db_path: Path, run_id: str, timeout: float) -> str | None:
    """The status of ``run_id`` as the DB holds it (None when the row is missing)."""
    rows = read_only_query(
        db_path,
        "SELECT status FROM run WHERE id = ?",
        [run_id],
        timeout=timeout,
        what=f"checking that run {run_id} was recorded",
    )
    return str(rows[0][0]) if rows else None


def run_statuses(db_path: Path, timeout: float) -> dict[str, str]:
    """Every run's status, by run id."""
    rows = read_only_query(db_path, "SELECT id, status FROM run", [], timeout=timeout, what="audit")
    return {str(r[0]): str(r[1]) for r in rows}


_PLUGIN_SETS_SQL = f"""
SELECT json_extract_string(meta, '{PLUGIN_SET_PATH}') AS fp, count(*) AS n
FROM run WHERE fp IS NOT NULL GROUP BY fp ORDER BY n DESC, fp
"""


def plugin_set_counts(db_path: Path, timeout: float) -> dict[str, int]:
    """How many runs recorded each plugin-set fingerprint, most used first."""
    rows = read_only_query(db_path, _PLUGIN_SETS_SQL, [], timeout=timeout, what="plugin-set check")
    return {str(r[0]): int(r[1]) for r in rows}


_UNDECLARED_SQL = f"""
SELECT id, json_extract_string(meta, '{RUN_NAME_PATH}') AS name,
       json_extract(meta, '{UNDECLARED_PATH}') AS files
FROM run
WHERE status = 'completed' AND json_extract(meta, '{CACHE_SOURCE_PATH}') IS NULL
  AND files IS NOT NULL AND files::VARCHAR <> '{{}}'
ORDER BY run.created_at, id
"""


def undeclared_reads(db_path: Path, timeout: float) -> list[tuple[str, str, list[str]]]:
    """(run id, run name, files) of every executed run that read files it did not declare."""
    rows = read_only_query(db_path, _UNDECLARED_SQL, [], timeout=timeout, what="input check")
    found = []
    for run_id, name, files in rows:
        listed = json.loads(files) if isinstance(files, str) else dict(files or {})
        found.append((str(run_id), str(name or run_id), sorted(listed)))
    return found


# --- the many-run cache pre-check ---------------------------------------------------------------

_CACHED_SQL = f"""
SELECT id, config_hash, meta FROM run
WHERE status = 'completed' AND git_hash = $git AND input_hash = $inputs
  AND list_contains($hashes, config_hash)
  AND json_extract(meta, '{CACHE_SOURCE_PATH}') IS NULL
ORDER BY created_at DESC
"""

# Runs whose inputs are named: their content is in the config hash (trackyard passes them as
# identity inputs too), so the input hash, which depends on consist's artifact records, is not
# compared.
_CACHED_NAMED_INPUTS_SQL = f"""
SELECT id, config_hash, meta FROM run
WHERE status = 'completed' AND git_hash = $git
  AND list_contains($hashes, config_hash)
  AND json_extract(meta, '{CACHE_SOURCE_PATH}') IS NULL
ORDER BY created_at DESC
"""

_OUTPUTS_SQL = """
SELECT l.run_id, a.key, a.container_uri, a.hash FROM run_artifact_link l
JOIN artifact a ON a.id = l.artifact_id
WHERE l.direction = 'output' AND list_contains($ids, l.run_id)
"""


def executed_runs(
    store: Store, code: str, inputs: str | None, config_hashes: Sequence[str]
) -> list[tuple[str, str, Any]]:
    """Completed executed runs with this code and input hash and one of ``config_hashes``,
    newest first: (run id, config hash, meta). ``inputs=None``: any input hash (for configs
    whose named inputs are in the config hash)."""
    params: dict[str, Any] = {"git": code, "hashes": list(config_hashes)}
    sql = _CACHED_NAMED_INPUTS_SQL
    if inputs is not None:
        params["inputs"] = inputs
        sql = _CACHED_SQL
    rows = store.query(sql, params, what="the sweep's cache pre-check")
    return [(str(r[0]), str(r[1]), r[2]) for r in rows]


def output_uris(store: Store, run_ids: Sequence[str]) -> list[tuple[str, str, str, str | None]]:
    """The output artifacts of ``run_ids``: (run id, output key, container URI, content hash)."""
    rows = store.query(_OUTPUTS_SQL, {"ids": list(run_ids)}, what="the sweep's cache pre-check")
    return [(str(r[0]), str(r[1]), str(r[2]), None if r[3] is None else str(r[3])) for r in rows]


# --- why / diff ---------------------------------------------------------------------------------

_RUN_COLUMNS = """id, status, model_name, config_hash, git_hash, input_hash, year, iteration,
       strftime(created_at, '%Y-%m-%d %H:%M:%S') AS created, CAST(meta AS VARCHAR) AS meta"""

_RUN_ROW_SQL = f"SELECT {_RUN_COLUMNS} FROM run WHERE id = $id"

# Executed, completed runs of one model in one domain, newest first; with $before, only those
# created before that run (the subquery is NULL for '', and COALESCE then lets every run in).
_MODEL_RUNS_SQL = f"""
SELECT {_RUN_COLUMNS} FROM run
WHERE status = 'completed' AND model_name = $model AND id <> $before
  AND json_extract_string(meta, '{DOMAIN_PATH}') IS NOT DISTINCT FROM $domain
  AND json_extract(meta, '{CACHE_SOURCE_PATH}') IS NULL
  AND run.created_at < COALESCE((SELECT r.created_at FROM run r WHERE r.id = $before),
                                TIMESTAMPTZ '9999-12-31 00:00:00+00')
ORDER BY run.created_at DESC, id DESC
LIMIT $limit
"""


def run_row(store: Store, run_id: str) -> tuple[Any, ...] | None:
    """One run's row for ``trackyard why``: (id, status, model_name, config_hash, git_hash,
    input_hash, year, iteration, created_at text, meta JSON text), or ``None``."""
    rows = store.query(_RUN_ROW_SQL, {"id": run_id}, what=f"reading run {run_id}")
    return tuple(rows[0]) if rows else None


def model_runs(
    store: Store, model: str, domain: str | None, *, before: str = "", limit: int = 50
) -> list[tuple[Any, ...]]:
    """The executed completed runs of ``model`` in ``domain``, newest first (only those created
    before run ``before`` when given), as :func:`run_row` rows."""
    params = {"model": model, "domain": domain, "before": before, "limit": limit}
    rows = store.query(_MODEL_RUNS_SQL, params, what=f"the runs of model {model!r}")
    return [tuple(r) for r in rows]


# --- shards -------------------------------------------------------------------------------------

MARK_INTERRUPTED_SQL = "UPDATE run SET status = 'failed' WHERE status = 'running'"

ATTACH_SHARD_SQL = "ATTACH $path AS shard (READ_ONLY)"

TABLE_COLUMNS_SQL = """
SELECT database_name, schema_name, table_name, column_name
FROM duckdb_columns() WHERE database_name IN ('shard', current_database())
AND (database_name, schema_name, table_name) IN
    (SELECT (database_name, schema_name, table_name) FROM duckdb_tables())
ORDER BY column_index
"""


def copy_table_sql(table: str, columns: Sequence[str]) -> str:
    """Copy the rows of shard table ``table`` that the main store lacks (names from the shard's
    catalogue, quoted as identifiers)."""
    names = ", ".join(quote_identifier(c) for c in columns)
    quoted = quote_identifier(table)
    return f"INSERT OR IGNORE INTO main.{quoted} ({names}) SELECT {names} FROM shard.main.{quoted}"


# --- reports (trackyard report) -----------------------------------------------------------------

_REPORT_RUNS_SQL = f"""
WITH {_EXECUTOR_CTE}
SELECT run.id,
       json_extract_string(meta, '{RUN_NAME_PATH}') AS name,
       status,
       strftime(created_at, '%Y-%m-%d %H:%M:%S') AS created_at,
       epoch(ended_at) - epoch(started_at) AS seconds,
       executor.source AS cache_source,
       CAST(json_extract(meta, '{METRICS_PATH}') AS VARCHAR) AS metrics,
       year,
       parent_run_id,
       json_extract_string(meta, '$.error') AS error,
       json_extract_string(meta, '$._physical_run_dir') AS run_dir,
       json_extract_string(meta, '{PLUGIN_SET_PATH}') AS plugin_set
FROM run LEFT JOIN executor ON executor.id = run.id
WHERE json_extract_string(meta, '{DOMAIN_PATH}') = $domain
ORDER BY run.created_at, run.id
"""

_REPORT_LINKS_SQL = f"""
SELECT l.run_id, l.direction, a.key, a.container_uri, a.run_id
FROM run_artifact_link l JOIN artifact a ON a.id = l.artifact_id
JOIN run r ON r.id = l.run_id
WHERE json_extract_string(r.meta, '{DOMAIN_PATH}') = ?
ORDER BY l.run_id, l.direction, a.key
"""

_REPORT_DOMAINS_SQL = f"""
SELECT json_extract_string(meta, '{DOMAIN_PATH}') AS domain, count(*) AS n
FROM run WHERE domain IS NOT NULL GROUP BY domain ORDER BY domain
"""


def report_runs(db_path: Path, domain: str, timeout: float) -> list[Any]:
    """Every run of ``domain``, oldest first, for a report: (id, name, status, created_at,
    seconds, cache_source (the run that executed), metrics JSON, year, parent_run_id, error,
    run_dir, plugin_set)."""
    return list(
        read_only_query(
            db_path, _REPORT_RUNS_SQL, {"domain": domain}, timeout=timeout, what="report"
        )
    )


def report_links(db_path: Path, domain: str, timeout: float) -> list[Any]:
    """The artifacts the runs of ``domain`` read and wrote: (run id, direction, key,
    container URI, producing run id)."""
    return list(
        read_only_query(db_path, _REPORT_LINKS_SQL, [domain], timeout=timeout, what="report")
    )


def report_domains(db_path: Path, timeout: float) -> dict[str, int]:
    """How many runs each domain recorded in the store."""
    rows = read_only_query(db_path, _REPORT_DOMAINS_SQL, [], timeout=timeout, what="report")
    return {str(r[0]): int(r[1]) for r in rows}
