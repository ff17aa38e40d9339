"""The queries trackyard runs against consist's tables (texts in ``_consist.schema``).

Every query runs through the store access layer (``_store.Store``): a short-lived read-only
DuckDB connection with external access disabled, with the common lock wait and error types.
Rows come back as the named row types of ``_consist.schema``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trackyard import _metrics_index
from trackyard._consist import schema
from trackyard._consist.schema import (
    CachedRun,
    OutputUri,
    RankedRow,
    ReportLink,
    ReportRun,
    RunRow,
)
from trackyard._discovery import suggest
from trackyard._layout import metric_path
from trackyard._store import Store, read_only_query
from trackyard._validate import check_query

# --- ranking ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankedRun:
    """One run in a ranking: its id, name, metric value (NaN or None when missing)."""

    run_id: str
    name: str | None
    value: float | None


def ranked_runs(
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
    every run's JSON metadata instead (the reference the index is tested against, and the
    answer on a store that cannot be written while its index lags behind it, e.g. mounted
    read-only). A busy store is waited for, then raises ``StoreUnavailableError`` instead of
    answering [].
    """
    metric, k, keyword = check_query(metric, k, order)
    found: Sequence[Any] | None = None
    if use_index:  # None: behind, on a store this process cannot write (read-only mount)
        found = _metrics_index.top_from_index(
            store.db_path, domain, metric, k, keyword, timeout=store.timeout
        )
    if found is None:
        params = {"path": metric_path(metric), "domain": domain, "k": k}
        sql = schema.TOP_K_SQL.format(order=keyword)
        found = store.query(sql, params, what=f"top_k({metric!r})")
    rows = [RankedRow(*r) for r in found]
    ranked = [
        RankedRun(str(r.id), r.name, None if r.value is None else float(r.value)) for r in rows
    ]
    if ranked and all(r.value is None for r in ranked):  # maybe no run has the metric at all
        check_metric_recorded(store, domain, metric)
    return ranked


def check_metric_recorded(store: Store, domain: str, metric: str) -> None:
    """``QueryValidationError`` when no run of ``domain`` recorded ``metric`` (a typo), naming
    the metrics its runs recorded and the closest one."""

    from trackyard.errors import QueryValidationError

    recorded = _metrics_index.domain_metrics(store.db_path, domain, timeout=store.timeout)
    if metric in recorded:
        return
    close = suggest(metric, recorded)
    hint = f" Did you mean {close!r}?" if close else ""
    raise QueryValidationError(
        f"no run of domain {domain!r} has metric {metric!r}; metrics recorded: "
        f"{', '.join(recorded) or 'none'}.{hint}"
    )


def domains_with_runs(store: Store) -> list[str]:
    """The domains ``store`` holds runs of, sorted (none without a store file)."""
    if not store.db_path.is_file():
        return []
    rows = store.query(schema.DOMAINS_SQL, {}, what="listing the domains with runs")
    return [str(r[0]) for r in rows]


# --- listing and statuses -----------------------------------------------------------------------


def domain_runs(store: Store, domain: str) -> list[RunRow]:
    """Every run of ``domain``, oldest first (``cache_source``: the run that executed, through
    any chain of hits)."""
    rows = store.query(schema.RUNS_SQL, {"domain": domain}, what=f"listing the runs of {domain!r}")
    return [RunRow(*r) for r in rows]


def last_status(store: Store, domain: str) -> str | None:
    """The status of the latest run of ``domain`` (None when it has none)."""
    rows = store.query(schema.LAST_STATUS_SQL, {"domain": domain}, what="the latest run's status")
    return str(rows[0][0]) if rows else None


def recorded_status(db_path: Path, run_id: str, timeout: float) -> str | None:
    """The status of ``run_id`` as the DB holds it (None when the row is missing)."""
    rows = read_only_query(
        db_path,
        schema.RUN_STATUS_SQL,
        [run_id],
        timeout=timeout,
        what=f"checking that run {run_id} was recorded",
    )
    return str(rows[0][0]) if rows else None


def run_statuses(db_path: Path, timeout: float) -> dict[str, str]:
    """Every run's status, by run id."""
    rows = read_only_query(db_path, schema.RUN_STATUSES_SQL, [], timeout=timeout, what="audit")
    return {str(run_id): str(status) for run_id, status in rows}


def plugin_set_counts(db_path: Path, timeout: float) -> dict[str, int]:
    """How many runs recorded each plugin-set fingerprint, most used first."""
    rows = read_only_query(
        db_path, schema.PLUGIN_SETS_SQL, [], timeout=timeout, what="plugin-set check"
    )
    return {str(fingerprint): int(n) for fingerprint, n in rows}


def undeclared_reads(db_path: Path, timeout: float) -> list[tuple[str, str, list[str]]]:
    """(run id, run name, files) of every executed run that read files it did not declare."""
    rows = read_only_query(db_path, schema.UNDECLARED_SQL, [], timeout=timeout, what="input check")
    found = []
    for run_id, name, files in rows:
        listed = json.loads(files) if isinstance(files, str) else dict(files or {})
        found.append((str(run_id), str(name or run_id), sorted(listed)))
    return found


# --- the many-run cache pre-check ---------------------------------------------------------------


def executed_runs(
    store: Store, code: str, inputs: str | None, config_hashes: Sequence[str]
) -> list[CachedRun]:
    """Completed executed runs with this code and input hash and one of ``config_hashes``,
    newest first. ``inputs=None``: any input hash (for configs whose named inputs are in the
    config hash)."""
    params: dict[str, Any] = {"git": code, "hashes": list(config_hashes)}
    sql = schema.CACHED_NAMED_INPUTS_SQL
    if inputs is not None:
        params["inputs"] = inputs
        sql = schema.CACHED_SQL
    rows = [CachedRun(*r) for r in store.query(sql, params, what="the sweep's cache pre-check")]
    return [CachedRun(str(r.id), str(r.config_hash), r.meta) for r in rows]


def recorded_config_hashes(store: Store, config_hashes: Sequence[str]) -> set[str]:
    """Which of ``config_hashes`` any completed run (executed or a hit) has."""
    rows = store.query(
        schema.RECORDED_CONFIGS_SQL,
        {"hashes": list(config_hashes)},
        what="the sweep's cache pre-check",
    )
    return {str(r[0]) for r in rows}


def output_uris(store: Store, run_ids: Sequence[str]) -> list[OutputUri]:
    """The output artifacts of ``run_ids``."""
    found = store.query(
        schema.OUTPUTS_SQL, {"ids": list(run_ids)}, what="the sweep's cache pre-check"
    )
    rows = [OutputUri(*r) for r in found]
    return [
        OutputUri(
            str(r.run_id), str(r.key), str(r.container_uri), None if r.hash is None else str(r.hash)
        )
        for r in rows
    ]


# --- why / diff ---------------------------------------------------------------------------------


def run_row(store: Store, run_id: str) -> tuple[Any, ...] | None:
    """One run's row for ``trackyard why``: (id, status, model_name, config_hash, git_hash,
    input_hash, year, iteration, created_at text, meta JSON text), or ``None``."""
    rows = store.query(schema.RUN_ROW_SQL, {"id": run_id}, what=f"reading run {run_id}")
    return tuple(rows[0]) if rows else None


def model_runs(
    store: Store, model: str, domain: str | None, *, before: str = "", limit: int = 50
) -> list[tuple[Any, ...]]:
    """The executed completed runs of ``model`` in ``domain``, newest first (only those created
    before run ``before`` when given), as ``run_row`` rows."""
    params = {"model": model, "domain": domain, "before": before, "limit": limit}
    rows = store.query(schema.MODEL_RUNS_SQL, params, what=f"the runs of model {model!r}")
    return [tuple(r) for r in rows]


# --- reports (trackyard report) -----------------------------------------------------------------


def report_runs(db_path: Path, domain: str, timeout: float) -> list[ReportRun]:
    """Every run of ``domain``, oldest first, for a report."""
    rows = read_only_query(
        db_path, schema.REPORT_RUNS_SQL, {"domain": domain}, timeout=timeout, what="report"
    )
    return [ReportRun(*r) for r in rows]


def report_links(db_path: Path, domain: str, timeout: float) -> list[ReportLink]:
    """The artifacts the runs of ``domain`` read and wrote."""
    rows = read_only_query(
        db_path, schema.REPORT_LINKS_SQL, [domain], timeout=timeout, what="report"
    )
    return [ReportLink(*r) for r in rows]


def report_domains(db_path: Path, timeout: float) -> dict[str, int]:
    """How many runs each domain recorded in the store."""
    rows = read_only_query(db_path, schema.REPORT_DOMAINS_SQL, [], timeout=timeout, what="report")
    return {str(domain): int(n) for domain, n in rows}


# --- the live view (trackyard serve) ------------------------------------------------------------


def run_links(store: Store, run_id: str) -> list[tuple[str, str, str, str | None, str | None]]:
    """(direction, key, file, content hash, producing run) of every artifact ``run_id`` read
    or wrote."""
    rows = store.query(schema.RUN_LINKS_SQL, {"id": run_id}, what=f"the files of run {run_id}")
    return [
        (str(d), str(k), str(u), None if h is None else str(h), None if p is None else str(p))
        for d, k, u, h, p in rows
    ]


def running_counts(store: Store) -> dict[str, int]:
    """How many runs of each domain are still running."""
    rows = store.query(schema.RUNNING_SQL, [], what="the runs in flight")
    return {str(domain): int(n) for domain, n in rows}
