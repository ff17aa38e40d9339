"""Build a workspace's report: the summary, each domain's runs, and the plugins' sections."""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trackyard import _queries
from trackyard._report_elements import Link, Section, Table
from trackyard._store import check_locations, lock_timeout
from trackyard._userfile import write_text_atomically
from trackyard.errors import DomainConflictError, PluginPolicyError
from trackyard.report._data import (
    RunRecord,
    WorkspaceSummary,
    reading_once,
    records_in,
    workspace_summary,
)
from trackyard.report._output import check_output
from trackyard.report._render import DomainPart, Page, error_box, render_page, render_section
from trackyard.settings import NoOptions, resolve_settings

if TYPE_CHECKING:
    from trackyard.registry import Registry
    from trackyard.tracker import DomainTracker

__all__ = ["ReportResult", "build_report", "runs_table"]


@dataclass(frozen=True)
class ReportResult:
    """Where the report was written, the domains it shows and how long it took."""

    path: Path
    domains: list[str]
    runs: int
    seconds: float


def _folder_link(record: RunRecord) -> Link | None:
    if record.output_dir is None:
        return None
    return Link(record.output_dir.name, record.output_dir.as_uri())


def _metrics_text(metrics: dict[str, float | None]) -> str:
    return ", ".join(
        f"{k}={'n/a' if v is None else format(v, '.6g')}" for k, v in sorted(metrics.items())
    )


def runs_table(records: Sequence[RunRecord], title: str = "Runs", max_rows: int = 200) -> Table:
    """A table of ``records``, newest first: status, whether it was a cache hit (and of which
    run), time, metrics and a link to its output folder."""
    rows = [
        [
            r.name or r.run_id,
            r.run_id,
            r.status,
            r.created_at,
            None if r.seconds is None else round(r.seconds, 2),
            f"hit of {r.cache_source}" if r.cache_source else "executed",
            _metrics_text(r.metrics),
            _folder_link(r),
        ]
        for r in reversed(records)
    ]
    columns = ["run", "run id", "status", "created", "seconds", "cache", "metrics", "outputs"]
    return Table(title, columns, rows, max_rows=max_rows)


def _summary_html(
    summary: WorkspaceSummary,
    installed_set: str | None,
    db_path: Path,
    missing: Sequence[str],
    refused: dict[str, str],
) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(d)}</td><td class='num'>{n:,}</td></tr>"
        for d, n in summary.domains.items()
    )
    sets = []
    for fingerprint, n in summary.plugin_sets.items():
        mark = " (installed)" if fingerprint == installed_set else " (differs from installed)"
        sets.append(f"<li><code>{html.escape(fingerprint[:16])}</code>: {n:,} runs{mark}</li>")
    if not sets:
        sets.append("<li>none recorded</li>")
    differ = any(f != installed_set for f in summary.plugin_sets)
    warning = (
        '<p class="failed">Some runs were made with another plugin set than the one installed.</p>'
        if differ
        else ""
    )
    notes = "".join(
        f'<p class="note">Domain {html.escape(d)} has runs but its plugin was refused '
        f"({html.escape(refused[d])}): only its runs are shown.</p>"
        if d in refused
        else f'<p class="note">Domain {html.escape(d)} has runs but its plugin is not '
        "installed: only its runs are shown.</p>"
        for d in missing
    )
    return (
        '<section class="domain" id="summary"><h2>Workspace summary</h2>'
        f"<p>Store: <code>{html.escape(str(db_path))}</code></p>"
        f'<table class="summary"><thead><tr><th>domain</th><th>runs</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
        f'<p data-summary="counts">{summary.executed:,} executed, {summary.cached:,} served from '
        f"cache, {summary.failed:,} failed; {summary.seconds:,.1f} s spent running models.</p>"
        f"<h4>Plugin sets recorded</h4><ul>{''.join(sets)}</ul>{warning}{notes}</section>"
    )


def plugin_parts(
    registry: Registry, domain: str, tracker: DomainTracker
) -> list[tuple[str, Section | str]]:
    """Each plugin's ``report_sections`` for ``domain``: (plugin, section), or (plugin, error
    text) for a plugin that raised or returned something else than a list of sections."""
    out: list[tuple[str, Section | str]] = []
    for plugin, results in registry.call_each(domain, "report_sections", tracker=tracker):
        if isinstance(results, BaseException):
            out.append((plugin, f"{type(results).__name__}: {results}"))
            continue
        for result in results:
            if result is None:
                continue
            if not isinstance(result, list | tuple):
                out.append(
                    (plugin, f"report_sections returned {type(result).__name__}, not a list")
                )
                continue
            out.extend((plugin, section) for section in result)
    return out


def _domain_part(
    registry: Registry,
    domain: str,
    tracker: DomainTracker | None,
    records: list[RunRecord],
    refused: str | None = None,
) -> DomainPart:
    part = DomainPart(domain)
    if refused is not None:
        part.html.append(
            f'<p class="note" data-refused="{html.escape(domain)}">The sections of this '
            f"domain's plugins are missing: {html.escape(refused)}</p>"
        )
    if tracker is not None:
        try:
            contributions = plugin_parts(registry, domain, tracker)
        except Exception as exc:  # the domain's plugin could not even be asked
            contributions = [(domain, f"{type(exc).__name__}: {exc}")]
        for plugin, section in contributions:
            if isinstance(section, str):
                part.html.append(
                    error_box(f"Plugin {plugin} failed to build its report sections", section)
                )
            else:
                part.html.append(render_section(section, plugin))
    part.html.append(render_section(Section("All runs", [runs_table(records)]), "trackyard"))
    return part


def _tracker(
    reg: Registry,
    domain: str,
    installed: bool,
    present: bool,
    kwargs: dict[str, Any],
    refused: dict[str, str],
) -> DomainTracker | None:
    """The domain's tracker; None when its plugin is not installed, or is refused by the
    policy while the store holds its runs (``refused`` then says why)."""
    if not installed:
        if not present:
            reg.choose(domain)  # raises the error that says why there is no such domain
        return None
    try:
        return reg.get_tracker(domain, **kwargs)
    except (PluginPolicyError, DomainConflictError) as exc:
        if not present:
            raise
        refused[domain] = str(exc)
        return None


def build_report(
    domains: Sequence[str] = (),
    *,
    workspace: Any = None,
    output: Path | str = "report.html",
    registry: Registry | None = None,
    force: bool = False,
) -> ReportResult:
    """Write the HTML report of ``workspace`` to ``output``; returns where and what it holds.

    ``domains``: which domains to show (default: every domain with runs in the store). A
    domain whose plugin is not installed shows its runs only; a plugin whose sections fail
    shows an error box. The file is self-contained (plotly inlined) and works offline.

    ``output`` is refused
    ([`ConfigValidationError`][trackyard.errors.ConfigValidationError], before anything is
    read or written) when
    it is inside the workspace's store files or run folder (symlinks resolved), is not a
    regular file, or is an existing file that is not a trackyard report and ``force`` is false.
    """
    with reading_once():
        return _build(domains, workspace, Path(output), registry, force)


def _build(
    domains: Sequence[str], workspace: Any, output: Path, registry: Registry | None, force: bool
) -> ReportResult:
    from trackyard.registry import default_registry

    started = time.perf_counter()
    reg = registry if registry is not None else default_registry()
    kwargs = {} if workspace is None else {"workspace": workspace}
    settings = resolve_settings("report", NoOptions, kwargs, environ=reg.environ)
    check_locations(settings)  # refused as `trackyard run` refuses them
    path = check_output(output, settings, force=force)
    db_path = settings.db_path
    present = _queries.report_domains(db_path, lock_timeout()) if db_path.is_file() else {}
    wanted = list(dict.fromkeys(domains)) or sorted(present)
    installed = {d.name for d in reg.available_domains()}
    records: dict[str, list[RunRecord]] = {}
    trackers: dict[str, DomainTracker | None] = {}
    refused: dict[str, str] = {}
    for domain in wanted:
        tracker = _tracker(reg, domain, domain in installed, domain in present, kwargs, refused)
        trackers[domain] = tracker
        records[domain] = records_in(tracker.settings if tracker else settings, domain)
    missing = [d for d in wanted if trackers[d] is None]
    summary = workspace_summary(records)
    parts = [_domain_part(reg, d, trackers[d], records[d], refused.get(d)) for d in wanted]
    page = Page(
        title="trackyard report",
        subtitle=f"Workspace {settings.workspace} — {time.strftime('%Y-%m-%d %H:%M:%S')}",
        summary=_summary_html(summary, reg.plugin_set_fingerprint(), db_path, missing, refused),
        parts=parts,
    )
    write_text_atomically(path, render_page(page), "the report")
    return ReportResult(
        path=path,
        domains=wanted,
        runs=sum(len(r) for r in records.values()),
        seconds=time.perf_counter() - started,
    )
