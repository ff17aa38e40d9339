"""HTML for a report: one self-contained file, plotly's JavaScript inlined, no network.

Sections become HTML; each ``Chart`` becomes a plotly figure (JSON data, drawn by
``Plotly.newPlot`` when the page loads). Series over ``MAX_POINTS`` points (parallel
coordinates over ``MAX_LINES`` lines) are downsampled evenly and tables over their
``max_rows`` are cut, and the page says so.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from trackyard._report_elements import Chart, Link, Section, Series, Table
from trackyard.report._output import GENERATOR

__all__ = [
    "MAX_LINES",
    "MAX_POINTS",
    "DomainPart",
    "Page",
    "error_box",
    "script_json",
    "render_page",
    "render_section",
]

MAX_POINTS = 1000
# Parallel coordinates are drawn with WebGL: fewer lines keep software rendering quick.
MAX_LINES = 300

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1f2933;
background:#f5f7fa}
header{background:#243b53;color:#fff;padding:1rem 2rem}header h1{margin:0;font-size:1.5rem}
header p{margin:.3rem 0 0;color:#d9e2ec}nav a{color:#bcccdc;margin-right:1rem}
main{padding:1rem 2rem;max-width:1300px}
section.domain{background:#fff;border-radius:8px;padding:1rem 1.5rem;margin:1rem 0;
box-shadow:0 1px 3px rgba(0,0,0,.1)}
.section{margin:1rem 0 2rem}.section h3{border-bottom:1px solid #d9e2ec;padding-bottom:.3rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #d9e2ec;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f4f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#627d98;font-size:.85rem;font-style:italic}
.chart{width:100%;max-width:900px;height:380px}
.charts{display:flex;flex-wrap:wrap;gap:1rem}
.error-box{border:2px solid #cf1124;background:#ffe3e3;color:#610316;padding:.5rem 1rem;
border-radius:6px;margin:1rem 0}.error-box pre{white-space:pre-wrap;margin:.3rem 0}
.hit{color:#0b6e4f;font-weight:600}.failed{color:#cf1124;font-weight:600}
"""

# Charts are drawn one per task (setTimeout), so the page shows and scrolls while the rest
# are drawn; each chart div gets data-drawn="1" once plotly has drawn it.
_INIT = """
(function () {
  var specs = Array.prototype.slice.call(document.querySelectorAll('script.chart-spec'));
  function next() {
    var spec = specs.shift();
    if (!spec) { document.body.dataset.chartsDrawn = '1'; return; }
    var fig = JSON.parse(spec.textContent);
    var div = document.getElementById(spec.dataset.target);
    Plotly.newPlot(div, fig.data, fig.layout, {displaylogo: false, responsive: true,
      modeBarButtonsToRemove: ['sendDataToCloud']}).then(function () {
        div.dataset.drawn = '1';
        setTimeout(next, 0);
      });
  }
  next();
})();
"""


@dataclass
class DomainPart:
    """One domain's part of the page: its sections (or error boxes) in order."""

    domain: str
    html: list[str] = field(default_factory=list)


@dataclass
class Page:
    """A whole report page; ``render_page`` writes it."""

    title: str
    subtitle: str
    summary: str
    parts: list[DomainPart]


class _Ids:
    def __init__(self) -> None:
        self.n = 0

    def next(self) -> str:
        self.n += 1
        return f"chart-{self.n}"


_IDS = _Ids()


LINK_SCHEMES = ("file", "http", "https")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_REFUSED_NOTE = "not linked: only relative, #, file: and http(s): targets are"


def safe_href(href: str) -> bool:
    """Whether a link may point at ``href``: relative, ``#...``, ``file:``, ``http(s):``.

    Read as a browser does (tabs and newlines removed, leading controls and spaces ignored), so
    `` JaVa\tScript:`` is the ``javascript:`` it runs as."""
    cleaned = re.sub(r"[\t\n\r]", "", str(href)).lstrip("".join(map(chr, range(33))))
    scheme = _SCHEME.match(cleaned)
    return scheme is None or scheme.group(1).lower() in LINK_SCHEMES


def _cell(value: Any) -> str:
    if isinstance(value, Link):
        if not safe_href(value.href):
            return f'<td><span title="{_REFUSED_NOTE}">{html.escape(value.text)}</span></td>'
        return f'<td><a href="{html.escape(value.href)}">{html.escape(value.text)}</a></td>'
    if value is None:
        return "<td></td>"
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, float):
        text = "NaN" if math.isnan(value) else f"{value:.6g}"
        return f'<td class="num">{text}</td>'
    if isinstance(value, int):
        return f'<td class="num">{value}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def _table(table: Table) -> str:
    if not isinstance(table.max_rows, int) or table.max_rows < 1:
        raise ValueError(f"table {table.title!r}: max_rows must be a positive integer")
    columns = list(table.columns)
    rows = list(table.rows)
    shown = rows[: table.max_rows]
    out = [f'<div class="table" data-title="{html.escape(table.title)}">']
    out.append(f"<h4>{html.escape(table.title)}</h4>")
    out.append("<table><thead><tr>")
    out.extend(f"<th>{html.escape(str(c))}</th>" for c in columns)
    out.append("</tr></thead><tbody>")
    for row in shown:
        cells = list(row)
        if len(cells) != len(columns):
            raise ValueError(
                f"table {table.title!r}: a row has {len(cells)} cells for {len(columns)} columns"
            )
        out.append("<tr>" + "".join(_cell(c) for c in cells) + "</tr>")
    out.append("</tbody></table>")
    if len(rows) > len(shown):
        out.append(f'<p class="note">Showing the first {len(shown):,} of {len(rows):,} rows.</p>')
    out.append("</div>")
    return "".join(out)


def _sample(values: Sequence[Any], step: int) -> list[Any]:
    return list(values[::step]) if step > 1 else list(values)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _chart(chart: Chart) -> str:
    """One chart: its Plotly traces (downsampled past the limits) and the note of each cut."""
    chart_id = _IDS.next()
    layout: dict[str, Any] = {
        "title": {"text": chart.title},
        "margin": {"t": 50, "l": 60, "r": 20, "b": 50},
        "hovermode": "closest",
    }
    if chart.dimensions:
        data, marks, notes = _parcoords(chart)
    else:
        data, marks, notes = _scatter(chart)
        layout["xaxis"] = {"title": {"text": chart.x_label}}
        layout["yaxis"] = {"title": {"text": chart.y_label}}
    return _chart_html(chart_id, chart.title, {"data": data, "layout": layout}, marks, notes)


def _parcoords(chart: Chart) -> tuple[list[dict[str, Any]], int, list[str]]:
    """The parallel-coordinates trace of ``chart.dimensions``: (traces, lines drawn, notes)."""
    lengths = {len(v) for v in chart.dimensions.values()}
    if len(lengths) != 1:
        raise ValueError(f"chart {chart.title!r}: dimensions have different lengths")
    total = lengths.pop()
    step = max(1, math.ceil(total / MAX_LINES))
    dims = [
        {"label": name, "values": [_jsonable(v) for v in _sample(values, step)]}
        for name, values in chart.dimensions.items()
    ]
    trace: dict[str, Any] = {"type": "parcoords", "dimensions": dims}
    if chart.color is not None:
        if chart.color not in chart.dimensions:
            raise ValueError(f"chart {chart.title!r}: color {chart.color!r} is no dimension")
        colors = [_jsonable(v) for v in _sample(chart.dimensions[chart.color], step)]
        trace["line"] = {"color": colors, "colorscale": "Viridis", "showscale": True}
    marks = len(dims[0]["values"]) if dims else 0
    notes = []
    if step > 1:
        notes.append(f"Downsampled: {marks:,} of {total:,} lines drawn (every {step}th).")
    return [trace], marks, notes


def _scatter(chart: Chart) -> tuple[list[dict[str, Any]], int, list[str]]:
    """One scatter trace per series: (traces, points drawn, notes)."""
    data: list[dict[str, Any]] = []
    notes: list[str] = []
    for series in chart.series:
        if not isinstance(series, Series):
            raise TypeError(f"chart {chart.title!r}: series must be trackyard.report.Series")
        if len(series.x) != len(series.y):
            raise ValueError(f"chart {chart.title!r}: series {series.name!r} x and y differ")
        step = max(1, math.ceil(len(series.x) / MAX_POINTS))
        trace: dict[str, Any] = {
            "type": "scatter",
            "name": series.name,
            "mode": series.kind,
            "x": [_jsonable(v) for v in _sample(series.x, step)],
            "y": [_jsonable(v) for v in _sample(series.y, step)],
        }
        if series.labels is not None:
            trace["text"] = _sample(list(series.labels), step)
            trace["hovertemplate"] = "%{text}<br>%{x}, %{y}<extra></extra>"
        data.append(trace)
        if step > 1:
            notes.append(
                f"Downsampled: {len(trace['x']):,} of {len(series.x):,} points of "
                f"{series.name!r} drawn (every {step}th)."
            )
    return data, sum(len(t["x"]) for t in data), notes


def _chart_html(
    chart_id: str, title: str, figure: dict[str, Any], marks: int, notes: list[str]
) -> str:
    """The chart's placeholder, its Plotly spec as inline JSON, and its notes."""
    spec = script_json(figure)
    out = [
        f'<div class="chart" id="{chart_id}" data-title="{html.escape(title)}" '
        f'data-marks="{marks}"></div>',
        f'<script type="application/json" class="chart-spec" data-target="{chart_id}">'
        f"{spec}</script>",
    ]
    out.extend(f'<p class="note">{html.escape(n)}</p>' for n in notes)
    return "<div>" + "".join(out) + "</div>"


def script_json(value: Any) -> str:
    """``value`` as JSON safe inside an inline ``<script>``: ``<``, ``>`` and ``&`` are written
    as ``\\u003c``, ``\\u003e`` and ``\\u0026`` (JSON.parse reads them back), so no string can
    end the script (``</script``) or hide the rest of the page (``<!--<script``)."""
    text = json.dumps(value, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def error_box(title: str, message: str) -> str:
    """The box that replaces a section that could not be built or drawn."""
    return (
        f'<div class="error-box" role="alert"><strong>{html.escape(title)}</strong>'
        f"<pre>{html.escape(message)}</pre></div>"
    )


def render_section(section: Any, origin: str) -> str:
    """``section`` as HTML; anything wrong with it gives an error box naming ``origin``."""
    try:
        if not isinstance(section, Section):
            raise TypeError(f"expected a trackyard.report.Section, got {type(section).__name__}")
        body = []
        for item in section.items:
            if isinstance(item, str):
                body.append(f"<p>{html.escape(item)}</p>")
            elif isinstance(item, Table):
                body.append(_table(item))
            elif isinstance(item, Chart):
                body.append(_chart(item))
            else:
                raise TypeError(
                    f"section {section.title!r} holds a {type(item).__name__}; items must be "
                    "str, trackyard.report.Table or trackyard.report.Chart"
                )
    except Exception as exc:
        title = getattr(section, "title", "?")
        return error_box(
            f"Section {title!r} from {origin} could not be drawn", f"{type(exc).__name__}: {exc}"
        )
    return (
        f'<div class="section" data-section="{html.escape(section.title)}" '
        f'data-origin="{html.escape(origin)}"><h3>{html.escape(section.title)}</h3>'
        + "".join(body)
        + "</div>"
    )


def render_page(page: Page) -> str:
    """The whole self-contained HTML document."""
    from plotly.offline import get_plotlyjs  # the bundled plotly.js, inlined

    nav = " ".join(
        f'<a href="#domain-{html.escape(p.domain)}">{html.escape(p.domain)}</a>' for p in page.parts
    )
    parts = "".join(
        f'<section class="domain" id="domain-{html.escape(p.domain)}" '
        f'data-domain="{html.escape(p.domain)}"><h2>{html.escape(p.domain)}</h2>'
        + "".join(p.html)
        + "</section>"
        for p in page.parts
    )
    js = get_plotlyjs().replace("</script", "<\\/script")
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">{GENERATOR}'
        f"<title>{html.escape(page.title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{html.escape(page.title)}</h1><p>{html.escape(page.subtitle)}</p>"
        f"<nav>{nav}</nav></header><main>{page.summary}{parts}</main>"
        # plotly.js (3.5 MB) comes last: the summary and tables are shown while it is parsed.
        f"<script>{js}</script><script>{_INIT}</script></body></html>"
    )
