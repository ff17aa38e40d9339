"""The calibration domain's report sections: history, slices, parallel coordinates, top runs,
best config and failed trials (the ``report_sections`` hook)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from trackyard.report import Chart, Link, RunRecord, Section, Series, Table

__all__ = ["DEFAULT_METRIC", "calibration_sections"]

DEFAULT_METRIC = "mode_share_error"
TOP_K = 10


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _finite(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def _metric(trials: Sequence[RunRecord]) -> str | None:
    names = {name for t in trials for name in t.metrics}
    if DEFAULT_METRIC in names:
        return DEFAULT_METRIC
    return min(names) if names else None


def _parameters(trials: Sequence[RunRecord]) -> list[str]:
    """Numeric config keys that take more than one value across the trials."""
    keys: dict[str, set[float]] = {}
    for trial in trials:
        for key, value in trial.config.items():
            number = _number(value)
            if number is not None:
                keys.setdefault(key, set()).add(number)
    return sorted(k for k, values in keys.items() if len(values) > 1)


def _folder(run: RunRecord) -> Link | None:
    return None if run.output_dir is None else Link(run.run_id, run.output_dir.as_uri())


def calibration_sections(runs: Sequence[RunRecord]) -> list[Section]:
    """The calibration sections for ``runs`` (every run of the domain, oldest first)."""
    trials = [r for r in runs if r.status == "completed" and not r.cache_hit]
    failed = [r for r in runs if r.status == "failed"]
    metric = _metric(trials)
    sections: list[Section] = []
    if metric is None:
        sections.append(Section("Calibration", ["No completed evaluation recorded a metric yet."]))
    else:
        scored = [(t, t.metrics.get(metric)) for t in trials]
        sections.append(_history(metric, scored))
        params = _parameters(trials)
        sections.append(_slices(metric, scored, params))
        if len(params) >= 3:
            sections.append(_parallel(metric, scored, params))
        sections.extend(_ranking(metric, scored, params))
    sections.append(_failures(failed))
    return sections


def _history(metric: str, scored: Sequence[tuple[RunRecord, float | None]]) -> Section:
    x: list[int] = []
    y: list[float | None] = []
    best: list[float | None] = []
    labels: list[str] = []
    current: float | None = None
    for index, (trial, value) in enumerate(scored, start=1):
        x.append(index)
        y.append(value)
        labels.append(trial.name or trial.run_id)
        if _finite(value) and (current is None or value < current):  # type: ignore[operator]
            current = value
        best.append(current)
    chart = Chart.xy(
        f"{metric} per evaluation, in the order they ran",
        Series(metric, x, y, kind="markers", labels=labels),
        Series("running best", x, best, kind="lines"),
        x_label="evaluation",
        y_label=metric,
    )
    return Section(
        "Optimisation history",
        [
            f"{len(scored)} executed evaluations (cache hits are not counted twice); the line "
            f"is the best {metric} so far (smallest).",
            chart,
        ],
    )


def _slices(
    metric: str, scored: Sequence[tuple[RunRecord, float | None]], params: Sequence[str]
) -> Section:
    if not params:
        return Section("Metric against each parameter", ["No parameter varied across runs."])
    charts: list[str | Table | Chart] = []
    for param in params:
        pairs = [(_number(t.config.get(param)), v, t) for t, v in scored]
        kept = [(p, v, t) for p, v, t in pairs if p is not None]
        charts.append(
            Chart.xy(
                f"{metric} against {param}",
                Series(
                    metric,
                    [p for p, _, _ in kept],
                    [v for _, v, _ in kept],
                    labels=[t.name or t.run_id for _, _, t in kept],
                ),
                x_label=param,
                y_label=metric,
            )
        )
    return Section("Metric against each parameter", charts)


def _parallel(
    metric: str, scored: Sequence[tuple[RunRecord, float | None]], params: Sequence[str]
) -> Section:
    rows = [(t, v) for t, v in scored if _finite(v)]
    dims: dict[str, list[float]] = {
        p: [_number(t.config.get(p)) or 0.0 for t, _ in rows] for p in params
    }
    dims[metric] = [float(v) for _, v in rows]  # type: ignore[arg-type]
    return Section(
        "Parallel coordinates",
        [Chart.parallel(f"{len(params)} parameters and {metric}", dims, color=metric)],
    )


def _ranking(
    metric: str, scored: Sequence[tuple[RunRecord, float | None]], params: Sequence[str]
) -> list[Section]:
    ranked = sorted(scored, key=lambda tv: (not _finite(tv[1]), tv[1] if _finite(tv[1]) else 0.0))
    rows = [
        [rank, t.name or t.run_id, v, json.dumps(t.config, sort_keys=True, default=str), _folder(t)]
        for rank, (t, v) in enumerate(ranked[:TOP_K], start=1)
    ]
    top = Table(
        f"Top {min(TOP_K, len(ranked))} runs by {metric} (smallest first)",
        ["rank", "run", metric, "config", "outputs"],
        rows,
    )
    sections = [Section("Top runs", [top])]
    if ranked and _finite(ranked[0][1]):
        best, value = ranked[0]
        table = Table(
            "Best config", ["parameter", "value"], [[k, v] for k, v in sorted(best.config.items())]
        )
        sections.append(
            Section(
                "Best config",
                [f"Run {best.name or best.run_id} ({best.run_id}): {metric} = {value:.6g}.", table],
            )
        )
    return sections


def _failures(failed: Sequence[RunRecord]) -> Section:
    if not failed:
        return Section("Failed evaluations", ["No evaluation failed."])
    rows = [
        [f.name or f.run_id, f.run_id, f.created_at, f.error or "(no error recorded)"]
        for f in failed
    ]
    return Section(
        "Failed evaluations",
        [Table(f"{len(failed)} failed evaluations", ["run", "run id", "created", "error"], rows)],
    )
