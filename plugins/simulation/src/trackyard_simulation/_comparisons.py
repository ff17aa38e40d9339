"""Comparisons recorded in the store: what ``SimulationTracker.compare`` writes, and reads back.

Each ``compare`` call is recorded as a consist run of its own (model ``<model>_comparison``,
tag ``COMPARISON_TAG``, cache mode ``overwrite``), with the comparison in
``meta["comparison"]``. Its trackyard stamp names the domain under ``comparison_of`` instead of
``domain``, so the run is never listed as a model run, ranked, or counted in the report's
summary; its model name is in consist's cache key, so it can never be served as a model run's
cache hit. consist writes the run's JSON snapshot before its DB row, so a store rebuilt from the
snapshots (``trackyard doctor --fix``) keeps every comparison. Each record is a new run with its
own id: processes comparing at the same time never write the same row, and a pair compared again
is shown once, from its latest record.

The record is bounded (consist refuses a metadata value above 64 KiB): at most
``MAX_KEYS`` differing config keys and as many metrics, values as JSON text shortened to
``MAX_TEXT`` characters; ``left_out`` counts the keys beyond them. ``compare`` itself always
returns the whole ``Comparison``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "COMPARISON_MODEL_SUFFIX",
    "COMPARISON_OF",
    "COMPARISON_TAG",
    "MAX_KEYS",
    "MAX_READ",
    "MAX_TEXT",
    "RecordedComparison",
    "comparison_record",
    "recorded_comparisons",
]

COMPARISON_TAG = "trackyard_comparison"
COMPARISON_MODEL_SUFFIX = "_comparison"
COMPARISON_OF = "comparison_of"  # the stamp key naming the domain, in place of "domain"
META_KEY = "comparison"
MAX_KEYS = 50
MAX_TEXT = 200
MAX_READ = 1000  # the latest records read back for a report


@dataclass(frozen=True)
class RecordedComparison:
    """One recorded comparison: the two runs, their years, what differed, and when.

    ``config`` maps each differing key to the two values as JSON text (shortened to
    ``MAX_TEXT`` characters, ``…`` marking a cut); ``metrics`` maps each differing metric to its
    two values (``None`` when a run lacks it); ``left_out`` counts the differing keys and metrics
    the record left out (beyond ``MAX_KEYS`` each). ``compared_at`` is when the record was
    made (UTC), ``run_id`` the record's own run.
    """

    run_id: str
    run_a: str
    run_b: str
    years: tuple[int | None, int | None]
    config: dict[str, tuple[str, str]]
    metrics: dict[str, tuple[float | str | None, float | str | None]]
    left_out: int
    compared_at: datetime

    @property
    def identical(self) -> bool:
        return not self.config and not self.metrics and not self.left_out


def _short(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _json_text(value: Any) -> str:
    return _short(json.dumps(value, sort_keys=True, default=str, ensure_ascii=False))


def _metric(value: Any) -> float | str | None:
    """A metric value the store's JSON can hold: NaN and infinities as text."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else str(number)


def comparison_record(
    run_a: str,
    run_b: str,
    years: Sequence[int | None],
    config: Mapping[str, tuple[Any, Any]],
    metrics: Mapping[str, tuple[float | None, float | None]],
) -> dict[str, Any]:
    """The JSON record of a comparison, bounded as the module says."""
    config_keys = list(config)[:MAX_KEYS]
    metric_keys = list(metrics)[:MAX_KEYS]
    return {
        "run_a": run_a,
        "run_b": run_b,
        "years": list(years),
        "config": {_short(k): [_json_text(v) for v in config[k]] for k in config_keys},
        "metrics": {_short(k): [_metric(v) for v in metrics[k]] for k in metric_keys},
        "left_out": len(config) - len(config_keys) + len(metrics) - len(metric_keys),
    }


def _parse(run: Any, domain: str) -> RecordedComparison | None:
    meta = run.meta or {}
    record = meta.get(META_KEY)
    stamp = meta.get("trackyard") or {}
    if not isinstance(record, dict) or stamp.get(COMPARISON_OF) != domain:
        return None
    if not isinstance(run.created_at, datetime):
        return None
    try:
        years = [None if y is None else int(y) for y in record.get("years") or (None, None)]
        return RecordedComparison(
            run_id=str(run.id),
            run_a=str(record["run_a"]),
            run_b=str(record["run_b"]),
            years=(years[0], years[1]),
            config={
                str(k): (str(v[0]), str(v[1])) for k, v in (record.get("config") or {}).items()
            },
            metrics={str(k): (v[0], v[1]) for k, v in (record.get("metrics") or {}).items()},
            left_out=int(record.get("left_out") or 0),
            compared_at=run.created_at,
        )
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):
        return None  # a record this version cannot read: not shown


def recorded_comparisons(consist: Any, domain: str) -> list[RecordedComparison]:
    """The comparisons recorded for ``domain`` in the store of ``consist`` (a
    ``consist.Tracker``), latest first, one per pair of runs (in either order): the latest
    record of each pair. Reads the latest ``MAX_READ`` records."""
    runs = consist.find_runs(tags=[COMPARISON_TAG], status="completed", limit=MAX_READ)
    found = [c for c in (_parse(run, domain) for run in runs) if c is not None]
    found.sort(key=lambda c: (c.compared_at.timestamp(), c.run_id), reverse=True)
    seen: set[frozenset[str]] = set()
    latest = []
    for comparison in found:
        pair = frozenset((comparison.run_a, comparison.run_b))
        if pair not in seen:
            seen.add(pair)
            latest.append(comparison)
    return latest
