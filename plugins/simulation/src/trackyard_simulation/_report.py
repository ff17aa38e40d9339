"""The simulation domain's report sections: each ``run_years`` scenario as a lineage chain with
its metrics over the years, the scenarios' final years side by side, and the comparisons
``compare`` recorded (the ``report_sections`` hook)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from trackyard.report import Chart, Link, RunRecord, Section, Series, Table
from trackyard_simulation._comparisons import MAX_KEYS, MAX_READ, RecordedComparison

__all__ = ["COMPARISONS_TITLE", "MAX_SCENARIOS", "comparisons_section", "simulation_sections"]

MAX_SCENARIOS = 12
COMPARISONS_TITLE = "Comparisons recorded by compare, latest first"


def _scenario_name(run: RunRecord) -> str:
    name = run.name or run.run_id
    suffix = f"-{run.year}"
    return name[: -len(suffix)] if run.year is not None and name.endswith(suffix) else name


def _folder(run: RunRecord) -> Link | None:
    return None if run.output_dir is None else Link(run.run_id, run.output_dir.as_uri())


def simulation_sections(
    runs: Sequence[RunRecord], comparisons: Sequence[RecordedComparison] = ()
) -> list[Section]:
    """The simulation sections for ``runs`` (every run of the domain, oldest first) and the
    recorded ``comparisons`` (latest first, one per pair)."""
    return [*_scenario_sections(runs), comparisons_section(comparisons)]


def _scenario_sections(runs: Sequence[RunRecord]) -> list[Section]:
    scenarios: dict[str, list[RunRecord]] = {}
    for run in runs:
        if run.parent_run_id is not None and run.year is not None:
            scenarios.setdefault(run.parent_run_id, []).append(run)
    if not scenarios:
        return [Section("Scenarios", ["No multi-year scenario (run_years) recorded yet."])]
    names = {r.run_id: r.name or r.run_id for r in runs}
    shown = list(scenarios.items())[-MAX_SCENARIOS:]
    sections = []
    if len(shown) < len(scenarios):
        sections.append(
            Section(
                "Scenarios",
                [f"Showing the latest {len(shown)} of {len(scenarios)} scenarios."],
            )
        )
    for header, years in shown:
        years = sorted(years, key=lambda r: (r.year or 0, r.created_at))
        sections.append(_scenario(header, years, names))
    sections.append(_comparison([sorted(y, key=lambda r: r.year or 0) for _, y in shown]))
    return sections


def _scenario(header: str, years: Sequence[RunRecord], names: dict[str, str]) -> Section:
    title = f"Scenario {_scenario_name(years[0])} ({header})"
    chain = " → ".join(
        f"{r.year}" + (f" [{', '.join(sorted(r.outputs))}]" if r.outputs else "") for r in years
    )
    rows = []
    for run in years:
        passed = ", ".join(
            f"{key} from {names.get(src, src) if src else 'outside the store'}"
            for key, src in sorted(run.inputs.items())
        )
        rows.append(
            [
                run.year,
                run.name or run.run_id,
                run.status,
                f"hit of {run.cache_source}" if run.cache_source else "executed",
                passed or "(first year)",
                ", ".join(sorted(run.outputs)),
                _folder(run),
            ]
        )
    lineage = Table(
        "Lineage, year to year",
        ["year", "run", "status", "cache", "inputs", "outputs", "folder"],
        rows,
    )
    metrics = sorted({m for r in years for m in r.metrics})
    items: list[str | Table | Chart] = [f"Chain: {chain}", lineage]
    if metrics:
        items.append(
            Chart.xy(
                f"Metrics of {_scenario_name(years[0])} over the years",
                *(
                    Series(
                        m,
                        [r.year for r in years],
                        [r.metrics.get(m) for r in years],
                        kind="lines+markers",
                    )
                    for m in metrics
                ),
                x_label="year",
                y_label="value",
            )
        )
    return Section(title, items)


def _comparison(scenarios: Sequence[Sequence[RunRecord]]) -> Section:
    metrics = sorted({m for years in scenarios for m in years[-1].metrics})
    rows = []
    for years in scenarios:
        last = years[-1]
        rows.append(
            [
                _scenario_name(last),
                f"{years[0].year}-{last.year}",
                json.dumps(last.config, sort_keys=True, default=str),
                *(last.metrics.get(m) for m in metrics),
            ]
        )
    return Section(
        "Scenarios side by side (final year)",
        [
            Table(
                "Final year of each scenario (config and metrics side by side)",
                ["scenario", "years", "config", *metrics],
                rows,
            )
        ],
    )


def _years(years: tuple[int | None, int | None]) -> str | None:
    a, b = years
    if a is None and b is None:
        return None
    return str(a) if a == b else f"{'-' if a is None else a} → {'-' if b is None else b}"


def _when(moment: datetime) -> str:
    utc = moment.astimezone(UTC) if moment.tzinfo is not None else moment
    return utc.strftime("%Y-%m-%d %H:%M:%S")


def _metric(value: float | str | None) -> str:
    if value is None:
        return "n/a"
    return value if isinstance(value, str) else format(value, ".6g")


def comparisons_section(comparisons: Sequence[RecordedComparison]) -> Section:
    """The comparisons ``compare`` recorded, as a table: the two runs, their years, the config
    keys and metrics that differ (A → B), and when."""
    if not comparisons:
        return Section(
            "Comparisons",
            [
                "No comparison recorded yet: each call of compare(run_a, run_b) is recorded "
                "in the store and listed here."
            ],
        )
    rows = [
        [
            c.run_a,
            c.run_b,
            _years(c.years),
            "; ".join(f"{k}: {a} → {b}" for k, (a, b) in c.config.items()) or "same",
            "; ".join(f"{k}: {_metric(a)} → {_metric(b)}" for k, (a, b) in c.metrics.items())
            or "same",
            _when(c.compared_at),
        ]
        for c in comparisons
    ]
    items: list[str | Table | Chart] = [
        f"Each pair of runs compared, from its latest comparison (of the latest {MAX_READ:,} "
        "recorded); values are run A's → run B's, times UTC.",
        Table(
            COMPARISONS_TITLE,
            ["run A", "run B", "years", "config that differs", "metrics that differ", "compared"],
            rows,
        ),
    ]
    if any(c.left_out for c in comparisons):
        items.append(
            f"A comparison keeps at most {MAX_KEYS} differing config keys and {MAX_KEYS} "
            "metrics; compare() itself returns them all."
        )
    return Section("Comparisons", items)
