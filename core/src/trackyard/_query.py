"""Ranking runs by a recorded metric, with every user value bound as a parameter."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trackyard.errors import QueryValidationError

if TYPE_CHECKING:
    from consist import Tracker

METRIC_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
K_MAX = 10_000
_ORDERS = {"asc": "ASC", "desc": "DESC"}


@dataclass(frozen=True)
class RankedRun:
    """One run in a ranking: its id, name, metric value (NaN or None when missing)."""

    run_id: str
    name: str | None
    value: float | None


def check_metric_name(metric: object) -> str:
    """Metric names are identifiers: a letter or ``_``, then letters, digits, ``_``; 64 at most."""
    if not isinstance(metric, str) or not METRIC_RE.match(metric):
        raise QueryValidationError(
            f"invalid metric name {metric!r}: use a letter or '_' followed by up to 63 "
            "letters, digits or '_' (for example 'rmse' or 'mode_share_error')"
        )
    return metric


def check_query(metric: object, k: object, order: object) -> tuple[str, int, str]:
    """Validate a top-k request; returns (metric, k, SQL order keyword)."""
    metric = check_metric_name(metric)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= K_MAX:
        raise QueryValidationError(f"k must be an integer from 1 to {K_MAX}, got {k!r}")
    if not isinstance(order, str) or order.lower() not in _ORDERS:
        raise QueryValidationError(f"order must be 'asc' or 'desc', got {order!r}")
    return metric, k, _ORDERS[order.lower()]


# Only the ORDER keyword is formatted into the text, and it comes from _ORDERS, never the user.
_TOP_K_SQL = """
WITH ranked AS (
    SELECT id, json_extract_string(meta, '$.trackyard.run_name') AS name,
           TRY_CAST(json_extract(meta, :path) AS DOUBLE) AS value,
           created_at
    FROM run
    WHERE status = 'completed'
      AND json_extract_string(meta, '$.trackyard.domain') = :domain
      AND json_extract(meta, '$.cache_source') IS NULL
)
SELECT id, name, value FROM ranked
ORDER BY (value IS NULL OR isnan(value)), value {order}, created_at, id
LIMIT :k
"""


def top_k(
    tracker: Tracker,
    domain: str,
    metric: object,
    k: object = 5,
    order: object = "asc",
    *,
    db_path: Path | None = None,
    timeout: float = 30.0,
) -> list[RankedRun]:
    """The ``k`` best executed runs of ``domain`` by ``metric``; NaN and missing values last.

    With ``db_path`` the query runs on a short-lived read-only DuckDB connection with external
    access disabled; a busy store raises ``StoreUnavailableError`` instead of answering [].
    """
    metric, k, keyword = check_query(metric, k, order)
    if db_path is not None:
        from trackyard._store import read_only_query

        sql = _TOP_K_SQL.format(order=keyword)
        for name in ("path", "domain", "k"):
            sql = sql.replace(f":{name}", f"${name}")
        found = read_only_query(
            db_path,
            sql,
            {"path": f'$.metrics."{metric}"', "domain": domain, "k": k},
            timeout=timeout,
            what=f"top_k({metric!r})",
        )
        return [RankedRun(str(r[0]), r[1], None if r[2] is None else float(r[2])) for r in found]
    from sqlalchemy import text

    query = text(_TOP_K_SQL.format(order=keyword)).bindparams(
        path=f'$.metrics."{metric}"', domain=domain, k=k
    )
    rows: list[Any] = tracker.run_query(query)
    return [RankedRun(str(r[0]), r[1], None if r[2] is None else float(r[2])) for r in rows]
