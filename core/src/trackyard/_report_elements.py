"""The building blocks of a report section: ``Section``, ``Table``, ``Chart``.

Plain data (no rendering, no imports from trackyard), so that plugins build sections cheaply
and ``hookspecs`` can name them. ``trackyard.report`` re-exports them and renders them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Chart", "Link", "Section", "Series", "Table"]

CHART_KINDS = ("markers", "lines", "lines+markers")


@dataclass(frozen=True)
class Link:
    """A table cell that links somewhere: ``Link("run-1", "file:///ws/runs/outputs/run-1")``."""

    text: str
    href: str


@dataclass(frozen=True)
class Table:
    """A titled table. Cells are text, numbers, ``None`` (shown empty) or
    [`Link`][trackyard.report.Link].

    Rows are shown in the order given; only the first ``max_rows`` are written to the page,
    which then says how many were left out.
    """

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    max_rows: int = 200


@dataclass(frozen=True)
class Series:
    """One set of points of a [`Chart`][trackyard.report.Chart]: ``x`` and ``y`` of equal length,
    drawn as ``markers``, ``lines`` or ``lines+markers``; ``labels`` are shown on hover."""

    name: str
    x: Sequence[Any]
    y: Sequence[Any]
    kind: str = "markers"
    labels: Sequence[str] | None = None


@dataclass(frozen=True)
class Chart:
    """A titled chart, drawn by plotly in the report.

    An x/y chart holds [`Series`][trackyard.report.Series]; a parallel-coordinates chart
    ([`parallel`][trackyard.report.Chart.parallel]) holds ``dimensions`` (one list of values per
    axis, equally long) and an optional ``color`` dimension. Series longer than the report's point
    budget are downsampled evenly and the chart says so.
    """

    title: str
    series: Sequence[Series] = ()
    x_label: str = ""
    y_label: str = ""
    dimensions: Mapping[str, Sequence[float]] = field(default_factory=dict)
    color: str | None = None

    @classmethod
    def xy(cls, title: str, *series: Series, x_label: str = "", y_label: str = "") -> Chart:
        """An x/y chart of ``series`` (markers, lines or both)."""
        return cls(title=title, series=series, x_label=x_label, y_label=y_label)

    @classmethod
    def parallel(
        cls, title: str, dimensions: Mapping[str, Sequence[float]], *, color: str | None = None
    ) -> Chart:
        """Parallel coordinates: one axis per entry of ``dimensions``; lines coloured by the
        dimension named ``color`` (for instance the metric)."""
        return cls(title=title, dimensions=dict(dimensions), color=color)


@dataclass(frozen=True)
class Section:
    """A titled part of the report: paragraphs (``str``), [`Table`][trackyard.report.Table] and
    [`Chart`][trackyard.report.Chart] items, in order. Plugins return a list of these from the
    [`report_sections`][trackyard.hookspecs.report_sections] hook."""

    title: str
    items: Sequence[str | Table | Chart] = ()
