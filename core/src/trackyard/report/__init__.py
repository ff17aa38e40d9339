"""Workspace reports (``trackyard report``): one self-contained HTML file with charts.

Plugins contribute sections through the ``report_sections`` hook, built from ``Section``,
``Table``, ``Chart`` (with ``Series``) and ``Link``; ``run_records``
gives them every recorded run of their domain. Charts are drawn by plotly, whose JavaScript
is inlined so the file works offline. See ``docs/reports.md``.
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
