"""Workspace reports (``trackyard report``): one self-contained HTML file with charts.

Plugins contribute sections through the [`report_sections`][trackyard.hookspecs.report_sections]
hook, built from [`Section`][trackyard.report.Section], [`Table`][trackyard.report.Table],
[`Chart`][trackyard.report.Chart] (with [`Series`][trackyard.report.Series]) and
[`Link`][trackyard.report.Link]; [`run_records`][trackyard.report.run_records] gives them every
recorded run of their domain. Charts are drawn by plotly, whose JavaScript is inlined so the file
works offline. See ``docs/reports.md``.
"""

from __future__ import annotations

from trackyard._report_elements import Chart, Link, Section, Series, Table
from trackyard.report._build import ReportResult, build_report, runs_table
from trackyard.report._data import RunRecord, WorkspaceSummary, run_records
from trackyard.report._render import MAX_POINTS, render_section

__all__ = [
    "MAX_POINTS",
    "Chart",
    "Link",
    "ReportResult",
    "RunRecord",
    "Section",
    "Series",
    "Table",
    "WorkspaceSummary",
    "build_report",
    "render_section",
    "run_records",
    "runs_table",
]
