"""consist's database schema as trackyard reads it: every SQL text against consist's tables,
every consist key trackyard reads in run metadata or snapshots, and the named row types.

consist's tables (``run``, ``artifact``, ``run_artifact_link``; restores also write
``artifact_content``, ``config_facet`` and ``run_config_kv``, by the names consist's models
give) and the columns used here (``run.id, status, meta, created_at, started_at, ended_at,
year, parent_run_id, config_hash, git_hash, input_hash``; ``artifact.id, key, container_uri,
hash, run_id``; ``run_artifact_link.run_id, artifact_id, direction``) are pinned by
``tests/consist_contract``. Queries are run by ``_queries`` (and the metrics index, restores
and shard merges) through ``_store``; this module imports nothing but ``_layout``, so the
store layer can use it.

Every user value is bound as a parameter. The only words formatted into SQL text are constants:
JSON paths and keys from ``_layout``, the ORDER keyword from ``_validate.ORDERS``, and (for the
shard merge) table and column names read from the shard's own catalogue, quoted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from trackyard._layout import (
    CACHE_SOURCE_PATH,
    DOMAIN_PATH,
    METRICS_PATH,
    PLUGIN_SET_PATH,
    RUN_NAME_PATH,
    UNDECLARED_PATH,
)

# --- consist's names ------------------------------------------------------------------------

RUN_TABLE = "run"
# Keys consist writes into run.meta / a snapshot's config that trackyard reads.
ERROR_PATH = "$.error"  # the failed run's message
PHYSICAL_RUN_DIR = "_physical_run_dir"  # the run folder a run's outputs are under
PHYSICAL_RUN_DIR_PATH = f"$.{PHYSICAL_RUN_DIR}"
CONFIG_PREFIX = "__consist"  # consist's own keys in a recorded config (hash inputs...)
# trackyard's metrics index, named here because SQL below joins it with consist's run table.
RUN_INDEX_TABLE = "trackyard_run_index"
# Every table trackyard derives from consist's rows (the metrics index) starts so; a merge never
# copies them (the main store derives its own).
DERIVED_PREFIX = "trackyard_"


def quote_identifier(identifier: str) -> str:
    """``identifier`` as a quoted SQL identifier (a table or column name from a catalogue)."""
    return '"' + identifier.replace('"', '""') + '"'


# --- named rows -------------------------------------------------------------------------------


class RankedRow(NamedTuple):
    """One run of a ranking."""

    id: str
    name: str | None
    value: float | None


class RunRow(NamedTuple):
    """One run of a domain's listing (``trackyard runs``)."""

    id: str
    name: str | None
    status: str
    created_at: str
    cache_source: str | None
    metrics: str | None  # JSON


class ReportRun(NamedTuple):
    """One run of a domain's report."""

    id: str
    name: str | None
    status: str
    created_at: str
    seconds: float | None
    cache_source: str | None
    metrics: str | None  # JSON
    year: int | None
    parent_run_id: str | None
    error: str | None
    run_dir: str | None
    plugin_set: str | None


class ReportLink(NamedTuple):
    """An artifact a run read or wrote."""

    run_id: str
    direction: str
    key: str
    container_uri: str
    producer: str | None


class CachedRun(NamedTuple):
    """A completed executed run the sweep's pre-check may serve."""

    id: str
    config_hash: str
    meta: Any  # JSON text or a mapping


class OutputUri(NamedTuple):
    """One output artifact of a run."""

    run_id: str
    key: str
    container_uri: str
    hash: str | None


# --- rankings and listings --------------------------------------------------------------------

# {order} is ASC or DESC from _validate.ORDERS, never the user's text.
TOP_K_SQL = f"""
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

# A cache hit's source, followed to the run that executed: stores written before hits were
# stamped `source_executed` hold chains (a hit naming an earlier hit), since consist matches a
# lookup against hit rows too.
# Bounded: a chain longer than MAX_CHAIN hops (or a cycle) stops there.
MAX_CHAIN = 64
EXECUTOR_CTE = f"""
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
RUNS_SQL = f"""
WITH {EXECUTOR_CTE}
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

LAST_STATUS_SQL = f"""
SELECT status FROM run WHERE json_extract_string(meta, '{DOMAIN_PATH}') = $domain
ORDER BY created_at DESC, id DESC LIMIT 1
"""

DOMAINS_SQL = f"""
SELECT DISTINCT json_extract_string(meta, '{DOMAIN_PATH}') AS domain FROM run
WHERE domain IS NOT NULL ORDER BY domain
"""

RUN_STATUS_SQL = "SELECT status FROM run WHERE id = ?"
# Bundles: the runs an export may take (never one in flight), and which of a bundle's runs a
# store already holds.
EXPORTABLE_RUNS_SQL = f"""
SELECT id, json_extract_string(meta, '{DOMAIN_PATH}') AS domain, created_at FROM run
WHERE status <> 'running' ORDER BY created_at, id
"""
RUNS_AMONG_SQL = "SELECT id FROM run WHERE list_contains($ids, id)"
RUN_STATUSES_SQL = "SELECT id, status FROM run"
COUNT_RUNS_SQL = "SELECT count(*) FROM run"

PLUGIN_SETS_SQL = f"""
SELECT json_extract_string(meta, '{PLUGIN_SET_PATH}') AS fp, count(*) AS n
FROM run WHERE fp IS NOT NULL GROUP BY fp ORDER BY n DESC, fp
"""

UNDECLARED_SQL = f"""
SELECT id, json_extract_string(meta, '{RUN_NAME_PATH}') AS name,
       json_extract(meta, '{UNDECLARED_PATH}') AS files
FROM run
WHERE status = 'completed' AND json_extract(meta, '{CACHE_SOURCE_PATH}') IS NULL
  AND files IS NOT NULL AND files::VARCHAR <> '{{}}'
ORDER BY run.created_at, id
"""

# --- the many-run cache pre-check -------------------------------------------------------------

CACHED_SQL = f"""
SELECT id, config_hash, meta FROM run
WHERE status = 'completed' AND git_hash = $git AND input_hash = $inputs
  AND list_contains($hashes, config_hash)
  AND json_extract(meta, '{CACHE_SOURCE_PATH}') IS NULL
ORDER BY created_at DESC
"""

# Runs whose inputs are named: their content is in the config hash (trackyard passes them as
# identity inputs too), so the input hash, which depends on consist's artifact records, is not
# compared.
CACHED_NAMED_INPUTS_SQL = f"""
SELECT id, config_hash, meta FROM run
WHERE status = 'completed' AND git_hash = $git
  AND list_contains($hashes, config_hash)
  AND json_extract(meta, '{CACHE_SOURCE_PATH}') IS NULL
ORDER BY created_at DESC
"""

# The config hashes that any completed row has (executed or a hit, any code and inputs):
# consist's own lookup can only match a row with the call's config hash (its signature covers
# it), so a config hash no completed row has is a miss whatever else consist compares.
RECORDED_CONFIGS_SQL = """
SELECT DISTINCT config_hash FROM run
WHERE status = 'completed' AND list_contains($hashes, config_hash)
"""

OUTPUTS_SQL = """
SELECT l.run_id, a.key, a.container_uri, a.hash FROM run_artifact_link l
JOIN artifact a ON a.id = l.artifact_id
WHERE l.direction = 'output' AND list_contains($ids, l.run_id)
"""

# --- the metrics index (reads consist's run table) --------------------------------------------

# Finished runs in the store, and runs in the index: equal when the index is current.
INDEX_COUNTS_SQL = (
    "SELECT (SELECT count(*) FROM run WHERE status <> 'running'), "
    f"(SELECT count(*) FROM {RUN_INDEX_TABLE})"
)

# Finished runs not yet indexed, with the columns both tables need; {new} says which. Each
# run's JSON is parsed once, for the four paths at a time, and only its metrics object is kept
# (casting and storing the whole meta cost three times as much over a million runs).
NEW_RUNS_SQL = f"""
CREATE OR REPLACE TEMP TABLE trackyard_new_runs AS
SELECT id, status, created_at, json_extract_string(j[1], '$') AS domain,
       json_extract_string(j[2], '$') AS name, j[3] IS NULL AS executed, j[4] AS metrics
FROM (SELECT r.id, r.status, r.created_at,
             json_extract(r.meta, ['{DOMAIN_PATH}', '{RUN_NAME_PATH}', '{CACHE_SOURCE_PATH}',
                                   '{METRICS_PATH}']) AS j
      FROM run r
      WHERE r.status <> 'running' {{new}})
"""
# The usual case, runs added since the last ranking: those created after the newest indexed
# one (none of them can be indexed yet, so no run id is compared; a run created in the same
# instant as the newest indexed one is found by the full form when the counts disagree).
NEW_RUNS_SINCE = f"AND r.created_at > (SELECT max(created_at) FROM {RUN_INDEX_TABLE})"
# Runs merged or finished out of order: every run id is compared with the index's.
NEW_RUNS_ANY = f"AND NOT EXISTS (SELECT 1 FROM {RUN_INDEX_TABLE} i WHERE i.run_id = r.id)"
# The runs a shard merge just brought (the shard ATTACHed as ``shard``), not yet indexed.
NEW_RUNS_SHARD = f"AND r.id IN (SELECT id FROM shard.run) {NEW_RUNS_ANY}"
# The metric names the new runs recorded (only identifiers: a query can ask for no other, and
# their JSON path is then safe to write out).
NEW_METRIC_KEYS_SQL = """
SELECT DISTINCT k FROM (SELECT unnest(json_keys(metrics)) AS k FROM trackyard_new_runs
                        WHERE json_type(metrics) = 'OBJECT')
WHERE regexp_full_match(k, '[A-Za-z_][A-Za-z0-9_]{0,63}')
ORDER BY k
"""

# The metric names a domain's finished runs recorded, from their JSON (the index's
# ``domain_metrics`` when the index lags on a store that cannot be written).
RECORDED_METRICS_SQL = f"""
SELECT DISTINCT k FROM (SELECT unnest(json_keys(meta, '{METRICS_PATH}')) AS k FROM run
                        WHERE status <> 'running'
                          AND json_extract_string(meta, '{DOMAIN_PATH}') = $domain
                          AND json_type(meta, '{METRICS_PATH}') = 'OBJECT')
WHERE regexp_full_match(k, '[A-Za-z_][A-Za-z0-9_]{{0,63}}')
ORDER BY k
"""

# --- why / diff -------------------------------------------------------------------------------

RUN_COLUMNS = """id, status, model_name, config_hash, git_hash, input_hash, year, iteration,
       strftime(created_at, '%Y-%m-%d %H:%M:%S') AS created, CAST(meta AS VARCHAR) AS meta"""

RUN_ROW_SQL = f"SELECT {RUN_COLUMNS} FROM run WHERE id = $id"

# Executed, completed runs of one model in one domain, newest first; with $before, only those
# created before that run (the subquery is NULL for '', and COALESCE then lets every run in).
MODEL_RUNS_SQL = f"""
SELECT {RUN_COLUMNS} FROM run
WHERE status = 'completed' AND model_name = $model AND id <> $before
  AND json_extract_string(meta, '{DOMAIN_PATH}') IS NOT DISTINCT FROM $domain
  AND json_extract(meta, '{CACHE_SOURCE_PATH}') IS NULL
  AND run.created_at < COALESCE((SELECT r.created_at FROM run r WHERE r.id = $before),
                                TIMESTAMPTZ '9999-12-31 00:00:00+00')
ORDER BY run.created_at DESC, id DESC
LIMIT $limit
"""

# --- shards -----------------------------------------------------------------------------------

MARK_INTERRUPTED_SQL = "UPDATE run SET status = 'failed' WHERE status = 'running'"

# A shard shipped back by a Dask worker without the workspace: its outputs' recorded hashes,
# and its runs marked failed when a file did not arrive intact ($patch: JSON for run.meta).
SHARD_OUTPUTS_SQL = """
SELECT l.run_id, a.key, a.container_uri, a.hash FROM run_artifact_link l
JOIN artifact a ON a.id = l.artifact_id
WHERE l.direction = 'output'
ORDER BY l.run_id, a.key
"""
MARK_TRANSFER_FAILED_SQL = """
UPDATE run SET status = 'failed', meta = json_merge_patch(COALESCE(meta, '{}'), $patch)
"""

# The content rows of a run's artifacts, kept in its snapshot (``contents``): by content hash
# (the caller keeps the rows of its drivers); qualified, so it reads the main store with a
# shard attached. Merging a shard: the runs whose shard row lost to the main store's.
CONTENT_ROWS_SQL = """
SELECT id, content_hash, driver, created_at, meta FROM main.artifact_content
WHERE list_contains($hashes, content_hash)
"""
# The created_at of a run's config facet row and of its flattened keys ($facet, $run).
FACET_TIMES_SQL = """
SELECT 'facet', id, created_at FROM main.config_facet WHERE id = $facet
UNION ALL
SELECT 'kv', key, created_at FROM main.run_config_kv WHERE run_id = $run AND facet_id = $facet
"""
SHARD_CONTENT_CONFLICTS_SQL = """
SELECT l.run_id FROM shard.main.run_artifact_link l
JOIN shard.main.artifact a ON a.id = l.artifact_id
JOIN shard.main.artifact_content s ON s.content_hash = a.hash AND s.driver = a.driver
JOIN main.artifact_content m ON m.content_hash = s.content_hash AND m.driver = s.driver
WHERE m.id <> s.id
UNION
SELECT r.id FROM shard.main.run r
JOIN shard.main.config_facet s ON s.id = json_extract_string(r.meta, '$.config_facet_id')
JOIN main.config_facet m ON m.id = s.id
WHERE m.created_at <> s.created_at
"""

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


# --- reports (trackyard report) ---------------------------------------------------------------

REPORT_RUNS_SQL = f"""
WITH {EXECUTOR_CTE}
SELECT run.id,
       json_extract_string(meta, '{RUN_NAME_PATH}') AS name,
       status,
       strftime(created_at, '%Y-%m-%d %H:%M:%S') AS created_at,
       epoch(ended_at) - epoch(started_at) AS seconds,
       executor.source AS cache_source,
       CAST(json_extract(meta, '{METRICS_PATH}') AS VARCHAR) AS metrics,
       year,
       parent_run_id,
       json_extract_string(meta, '{ERROR_PATH}') AS error,
       json_extract_string(meta, '{PHYSICAL_RUN_DIR_PATH}') AS run_dir,
       json_extract_string(meta, '{PLUGIN_SET_PATH}') AS plugin_set
FROM run LEFT JOIN executor ON executor.id = run.id
WHERE json_extract_string(meta, '{DOMAIN_PATH}') = $domain
ORDER BY run.created_at, run.id
"""

REPORT_LINKS_SQL = f"""
SELECT l.run_id, l.direction, a.key, a.container_uri, a.run_id
FROM run_artifact_link l JOIN artifact a ON a.id = l.artifact_id
JOIN run r ON r.id = l.run_id
WHERE json_extract_string(r.meta, '{DOMAIN_PATH}') = ?
ORDER BY l.run_id, l.direction, a.key
"""

# One run's links (trackyard serve's run page): direction, key, file, content hash, producer.
RUN_LINKS_SQL = """
SELECT l.direction, a.key, a.container_uri, a.hash, a.run_id
FROM run_artifact_link l JOIN artifact a ON a.id = l.artifact_id
WHERE l.run_id = $id
ORDER BY l.direction, a.key
"""

# Runs still running, per domain (trackyard serve's overview: what is in flight).
RUNNING_SQL = f"""
SELECT json_extract_string(meta, '{DOMAIN_PATH}') AS domain, count(*) AS n
FROM run WHERE status = 'running' AND domain IS NOT NULL GROUP BY domain ORDER BY domain
"""

REPORT_DOMAINS_SQL = f"""
SELECT json_extract_string(meta, '{DOMAIN_PATH}') AS domain, count(*) AS n
FROM run WHERE domain IS NOT NULL GROUP BY domain ORDER BY domain
"""
