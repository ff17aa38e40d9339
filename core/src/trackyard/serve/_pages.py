"""The pages' content: the overview, a domain's live part, a run, a comparison of runs.

Built from the report's blocks (``Section``, ``Table``, ``Chart`` rendered by
``render_section``; plugins' ``report_sections``), so every plugin's sections are live too.
"""

from __future__ import annotations

from collections.abc import Sequence

from trackyard._report_elements import Link, Section, Table
from trackyard.report._build import _summary_html, plugin_parts
from trackyard.report._data import RunRecord, workspace_summary
from trackyard.report._render import error_box, render_section
from trackyard.serve._html import domain_href, esc, run_href
from trackyard.serve._state import Reader

PAGE_ROWS = 200


def overview(reader: Reader) -> str:
    """The workspace summary (as the report's) and each domain's runs running now (from the
    store; the sweeps in flight are ``_flight``'s, read on every request)."""
    present = reader.domains()
    records = {d: reader.records(d) for d in present}
    summary = workspace_summary(records)
    running = _running(reader)
    body = _summary_html(
        summary, reader.registry.plugin_set_fingerprint(), reader.store.db_path, [], {}
    )
    rows = [
        [Link(d, domain_href(d)), n, running.get(d, 0), _failed(records[d])]
        for d, n in present.items()
    ]
    flight = Table("Domains", ["domain", "runs", "running now", "failed"], rows)
    return body + render_section(Section("In flight", [flight]), "trackyard")


def _running(reader: Reader) -> dict[str, int]:
    from trackyard import _queries

    return _queries.running_counts(reader.store) if reader.store.db_path.is_file() else {}


def _failed(records: Sequence[RunRecord]) -> int:
    return sum(1 for r in records if r.status == "failed")


def _metrics_text(metrics: dict[str, float | None]) -> str:
    return ", ".join(
        f"{k}={'n/a' if v is None else format(v, '.6g')}" for k, v in sorted(metrics.items())
    )


def runs_table(records: Sequence[RunRecord], page: int) -> tuple[Table, str]:
    """One page of the domain's runs, newest first, each linked to its run page; the pager."""
    newest = list(reversed(records))
    shown = newest[page * PAGE_ROWS : (page + 1) * PAGE_ROWS]
    rows = [
        [
            Link(r.name or r.run_id, run_href(r.run_id)),
            r.run_id,
            r.status,
            r.created_at,
            None if r.seconds is None else round(r.seconds, 2),
            f"hit of {r.cache_source}" if r.cache_source else "executed",
            _metrics_text(r.metrics),
        ]
        for r in shown
    ]
    columns = ["run", "run id", "status", "created", "seconds", "cache", "metrics"]
    pages = max(1, -(-len(newest) // PAGE_ROWS))
    pager = (
        f'<p class="note" data-pager="1">Runs {page * PAGE_ROWS + 1:,} to '
        f"{page * PAGE_ROWS + len(shown):,} of {len(newest):,}, newest first (page {page + 1} "
        f"of {pages}; {PAGE_ROWS} per page, read from the server page by page).</p>"
    )
    links = []
    if page > 0:
        links.append(f'<a href="?page={page - 1}">newer runs</a>')
    if page + 1 < pages:
        links.append(f'<a href="?page={page + 1}">older runs</a>')
    return Table("All runs", columns, rows, max_rows=PAGE_ROWS), pager + " ".join(links)


def domain_live(reader: Reader, domain: str, page: int) -> tuple[str, int]:
    """The part of a domain's page that updates as runs land: the plugins' sections and the
    runs table; and how many runs it shows."""
    records = reader.records(domain)
    out = [
        f'<p class="live-status" data-runs="{len(records)}">{len(records):,} runs recorded; '
        f"{_failed(records):,} failed.</p>"
    ]
    tracker = reader.tracker(domain)
    if tracker is not None:
        try:
            with reader.sharing(domain, records):
                contributions = plugin_parts(reader.registry, domain, tracker)
        except Exception as exc:  # the domain's plugin could not even be asked
            contributions = [(domain, f"{type(exc).__name__}: {exc}")]
        for plugin, section in contributions:
            if isinstance(section, str):
                out.append(error_box(f"Plugin {plugin} failed to build its sections", section))
            else:
                out.append(render_section(section, plugin))
    else:
        out.append(
            f'<p class="note">The plugin of {esc(domain)} is not installed: only its '
            "runs are shown.</p>"
        )
    table, pager = runs_table(records, page)
    out.append(render_section(Section("All runs", [table]), "trackyard"))
    out.append(pager)
    return "".join(out), len(records)


def compare_form(run_ids: Sequence[str] = ()) -> str:
    """The form that opens the comparison of two or more runs."""
    values = list(run_ids) + [""] * max(0, 2 - len(run_ids))
    inputs = "".join(f'<input name="run" value="{esc(v)}" placeholder="run id">' for v in values)
    return (
        f'<form class="compare" method="get" action="/compare">{inputs}'
        '<button type="submit">compare</button></form>'
    )
