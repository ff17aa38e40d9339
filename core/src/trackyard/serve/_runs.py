"""One run as the live view shows it (page and JSON), and the comparison of several runs."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from trackyard import _queries, _why
from trackyard._layout import DOMAIN, IDENTITY, STAMP
from trackyard._report_elements import Link, Section, Table
from trackyard.report._data import RunRecord
from trackyard.report._render import error_box, render_section
from trackyard.serve._html import esc, run_href
from trackyard.serve._state import Reader


@dataclass(frozen=True)
class RunDetail:
    """What the run page and ``GET /api/runs/{run_id}`` show of one run."""

    record: RunRecord
    domain: str
    model: str
    config_hash: str | None
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    identity: dict[str, Any] = field(default_factory=dict)


def download_href(run_id: str, key: str) -> str:
    """Where an output of a run is downloaded from."""
    return f"/runs/{quote(run_id, safe='')}/outputs/{quote(key, safe='')}"


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size if path.is_file() else None
    except OSError:
        return None


def run_detail(reader: Reader, run_id: str) -> RunDetail | None:
    """The run ``run_id`` (None when the store has no such run, or it belongs to no domain)."""
    row = _queries.run_row(reader.store, run_id) if reader.store.db_path.is_file() else None
    if row is None:
        return None
    meta = json.loads(row[9]) if isinstance(row[9], str) and row[9] else {}
    stamp = meta.get(STAMP) if isinstance(meta, dict) else None
    domain = stamp.get(DOMAIN) if isinstance(stamp, dict) else None
    if not isinstance(domain, str):
        return None
    record = next((r for r in reader.records(domain) if r.run_id == run_id), None)
    if record is None:
        return None
    inputs = [
        {"key": key, "file": uri, "hash": digest, "produced_by": producer}
        for direction, key, uri, digest, producer in _queries.run_links(reader.store, run_id)
        if direction == "input"
    ]
    run_dir = reader.store.run_dir
    outputs = [
        {
            "key": key,
            "file": str(path.relative_to(run_dir)) if path.is_relative_to(run_dir) else path.name,
            "size": _size(path),
            "download": download_href(run_id, key),
        }
        for key, path in sorted(record.outputs.items())
    ]
    identity = stamp.get(IDENTITY) if isinstance(stamp, dict) else None
    return RunDetail(
        record,
        domain,
        str(row[2]),
        None if row[3] is None else str(row[3]),
        inputs,
        outputs,
        dict(identity) if isinstance(identity, dict) else {},
    )


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def run_json(detail: RunDetail) -> dict[str, Any]:
    """``GET /api/runs/{run_id}``."""
    r = detail.record
    return {
        "run_id": r.run_id,
        "name": r.name,
        "domain": detail.domain,
        "status": r.status,
        "created_at": r.created_at,
        "seconds": r.seconds,
        "cache_source": r.cache_source,
        "year": r.year,
        "parent_run_id": r.parent_run_id,
        "error": r.error,
        "plugin_set": r.plugin_set,
        "model": detail.model,
        "config_hash": detail.config_hash,
        "config": r.config,
        "metrics": {k: _finite(v) for k, v in r.metrics.items()},
        "inputs": detail.inputs,
        "outputs": detail.outputs,
    }


def listing_json(record: RunRecord) -> dict[str, Any]:
    """One run in ``GET /api/runs``."""
    return {
        "run_id": record.run_id,
        "name": record.name,
        "status": record.status,
        "created_at": record.created_at,
        "seconds": record.seconds,
        "cache_source": record.cache_source,
        "metrics": {k: _finite(v) for k, v in record.metrics.items()},
        "config": record.config,
    }


def _link(run_id: str | None) -> Link | str | None:
    return None if not run_id else Link(run_id, run_href(run_id))


def _summary(detail: RunDetail) -> Table:
    r = detail.record
    rows: list[list[Any]] = [
        ["run id", r.run_id],
        ["name", r.name],
        ["domain", detail.domain],
        ["status", r.status],
        ["created", r.created_at],
        ["seconds", r.seconds],
        ["cache", "executed" if r.cache_source is None else "served from cache, reusing:"],
        ["cache source", _link(r.cache_source)],
        ["model", detail.model],
        ["config hash", detail.config_hash],
        ["plugin set", r.plugin_set],
        ["year", r.year],
        ["parent run (lineage)", _link(r.parent_run_id)],
        ["error", r.error],
    ]
    return Table("Run", ["", "value"], rows)


def _files(detail: RunDetail) -> list[Table]:
    inputs = [[i["key"], i["file"], i["hash"], _link(i["produced_by"])] for i in detail.inputs]
    keyed = [
        [label, (v or {}).get("path"), (v or {}).get("sha256")]
        for label, v in sorted(detail.identity.items())
        if isinstance(v, Mapping) or v is None
    ]
    outputs = [
        [
            o["key"],
            o["file"],
            o["size"],
            Link("download", o["download"]) if o["size"] is not None else "missing",
        ]
        for o in detail.outputs
    ]
    return [
        Table("Inputs", ["label", "file", "hash", "produced by"], inputs),
        Table("Files in the cache key", ["label", "file", "sha256"], keyed),
        Table("Outputs", ["key", "file", "bytes", "download"], outputs),
    ]


def _why_section(reader: Reader, run_id: str) -> str:
    try:
        report = _why.explain_run(reader.store, reader.settings.workspace, run_id)
    except Exception as exc:  # why is extra: the page shows the run anyway
        return error_box("Why this run executed could not be worked out", f"{exc}")
    rows = [
        [d.component, d.key, d.change, _short(d.old), _short(d.new)] for d in report.differences
    ]
    items: list[Any] = [report.summary]
    if report.compared_to:
        items.append(Table("Compared with", ["run"], [[_link(report.compared_to)]]))
    if rows:
        items.append(Table("Differences", ["component", "key", "change", "before", "now"], rows))
    return render_section(Section(f"Why: {report.verdict}", items), "trackyard")


def _short(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 200 else text[:200] + "…"


def run_page_body(reader: Reader, detail: RunDetail) -> str:
    """The run page: summary, config, metrics, files, why."""
    r = detail.record
    config = [[k, _short(v)] for k, v in _why.flat_config(r.config).items()]
    metrics = [[k, v] for k, v in sorted(r.metrics.items())]
    section = Section(
        f"Run {r.name or r.run_id}",
        [
            _summary(detail),
            Table("Config", ["key", "value"], config, max_rows=1000),
            Table("Metrics", ["metric", "value"], metrics, max_rows=1000),
            *_files(detail),
        ],
    )
    compare = ""
    other = r.cache_source or r.parent_run_id
    if other:
        href = f"/compare?run={quote(other, safe='')}&run={quote(r.run_id, safe='')}"
        compare = f'<p><a href="{esc(href)}">compare with {esc(other)}</a></p>'
    return render_section(section, "trackyard") + compare + _why_section(reader, r.run_id)


def compare_body(details: Sequence[RunDetail]) -> str:
    """Config and metrics of ``details`` side by side; rows that differ are marked."""
    flats = [_why.flat_config(d.record.config) for d in details]
    keys = sorted({k for f in flats for k in f})
    names = [d.record.name or d.record.run_id for d in details]
    head = "".join(
        f'<th><a href="{esc(run_href(d.record.run_id))}">{esc(n)}</a></th>'
        for d, n in zip(details, names, strict=True)
    )
    config_rows = [(k, [_short(f.get(k)) for f in flats]) for k in keys]
    metric_keys = sorted({k for d in details for k in d.record.metrics})
    metric_rows = [(k, [_num(d.record.metrics.get(k)) for d in details]) for k in metric_keys]
    return _diff_table("Config", head, config_rows) + _diff_table("Metrics", head, metric_rows)


def _num(value: float | None) -> str | None:
    return None if value is None else format(value, ".6g")


def _diff_table(title: str, head: str, rows: list[tuple[str, list[str | None]]]) -> str:
    body = []
    for key, values in rows:
        differ = len({json.dumps(v) for v in values}) > 1
        cls = ' class="changed"' if differ else ""
        cells = "".join(f"<td{cls}>{esc('' if v is None else v)}</td>" for v in values)
        body.append(f'<tr data-differs="{int(differ)}"><th>{esc(key)}</th>{cells}</tr>')
    return (
        f'<div class="table diff" data-title="{esc(title)}"><h4>{esc(title)}</h4><table>'
        f"<thead><tr><th></th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )
