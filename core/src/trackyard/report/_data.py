"""What a report reads from the store: ``RunRecord`` per run, and the workspace summary."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trackyard import _queries
from trackyard._consist.schema import CONFIG_PREFIX
from trackyard._layout import SNAPSHOT_DIR
from trackyard._store import lock_timeout
from trackyard._validate import decode_metric

if TYPE_CHECKING:
    from trackyard.settings import Settings
    from trackyard.tracker import DomainTracker

__all__ = [
    "RunRecord",
    "WorkspaceSummary",
    "reading_once",
    "records_in",
    "run_records",
    "workspace_summary",
]


@dataclass(frozen=True)
class RunRecord:
    """One recorded run of a domain as a report shows it.

    ``cache_source`` is the run a cache hit reused (``None`` for a run that executed);
    ``output_dir`` the folder holding its outputs (the reused run's for a hit);
    ``inputs`` maps each input key to the run that produced it (``None`` for a file from
    outside the store); ``outputs`` maps output keys to their files.
    """

    run_id: str
    name: str | None
    status: str
    created_at: str
    seconds: float | None
    cache_source: str | None
    metrics: dict[str, float | None]
    config: dict[str, Any]
    year: int | None
    parent_run_id: str | None
    error: str | None
    output_dir: Path | None
    plugin_set: str | None
    inputs: dict[str, str | None] = field(default_factory=dict)
    outputs: dict[str, Path] = field(default_factory=dict)

    @property
    def cache_hit(self) -> bool:
        """Whether the run was served from cache (it then reused ``cache_source``)."""
        return self.cache_source is not None


# Configs already read, by (run folder, run id), once ``remember_configs`` is called (a
# long-lived reader such as ``trackyard serve`` reads each run's snapshot once, not per page).
_configs: dict[tuple[str, str], dict[str, Any]] | None = None


def remember_configs() -> None:
    """From now on, read each run's config from its snapshot once per process (a run's
    config never changes once recorded)."""
    global _configs
    if _configs is None:
        _configs = {}


def _config(run_dir: str, run_id: str) -> dict[str, Any]:
    """The config a run was called with, from consist's JSON snapshot (``{}`` when missing)."""
    if _configs is None:
        return _read_config(run_dir, run_id)
    key = (run_dir, run_id)
    found = _configs.get(key)
    if found is None:
        found = _read_config(run_dir, run_id)
        if found:  # a snapshot not written yet is read again next time
            _configs[key] = found
    return found


def _read_config(run_dir: str, run_id: str) -> dict[str, Any]:
    """Plain strings, not pathlib: this runs once per run (10,000 in bench/bench_report.py)."""
    try:
        with open(os.path.join(run_dir, SNAPSHOT_DIR, run_id + ".json"), encoding="utf-8") as f:
            raw = json.load(f)
    except (OSError, ValueError):
        return {}
    config = raw.get("config") if isinstance(raw, dict) else None
    if not isinstance(config, dict):
        return {}
    return {k: v for k, v in config.items() if not k.startswith(CONFIG_PREFIX)}


def run_records(tracker: DomainTracker) -> list[RunRecord]:
    """Every run of ``tracker``'s domain, oldest first, with its config, metrics, outputs,
    inputs and whether it was a cache hit. Two queries on a read-only connection, then one
    JSON snapshot read per run for its config."""
    return records_in(tracker.settings, tracker.domain_name)


_memo: dict[tuple[str, str], list[RunRecord]] | None = None


@contextmanager
def reading_once(known: Mapping[tuple[str, str], list[RunRecord]] | None = None) -> Iterator[None]:
    """While a report is built, each domain's records are read once, whoever asks (the core's
    runs table and every plugin's sections). ``known``: records already read, by (DB path,
    domain), given to whoever asks instead of reading them again."""
    global _memo
    previous, _memo = _memo, dict(known or {})
    try:
        yield
    finally:
        _memo = previous


def records_in(settings: Settings, domain: str) -> list[RunRecord]:
    """``run_records`` of ``domain`` in the store ``settings`` point at."""
    key = (str(settings.db_path), domain)
    if _memo is not None and key in _memo:
        return list(_memo[key])
    records = _read(settings, domain)
    if _memo is not None:
        _memo[key] = records
    return list(records)


def _read(settings: Settings, domain: str) -> list[RunRecord]:
    db_path = Path(settings.db_path)
    if not db_path.is_file():
        return []
    timeout = lock_timeout()
    rows = _queries.report_runs(db_path, domain, timeout)
    outputs: dict[str, dict[str, Path]] = {}
    inputs: dict[str, dict[str, str | None]] = {}
    default_dir = str(settings.run_dir)
    run_dirs = {str(r.id): str(r.run_dir) if r.run_dir else default_dir for r in rows}
    for run_id, direction, key, uri, producer in _queries.report_links(db_path, domain, timeout):
        if direction == "output":
            base = run_dirs.get(run_id, default_dir)
            # normpath, not resolve(): no file-system call per artifact (10,000 runs)
            outputs.setdefault(run_id, {})[key] = Path(os.path.normpath(os.path.join(base, uri)))
        else:
            inputs.setdefault(run_id, {})[key] = None if producer is None else str(producer)
    records = []
    for r in rows:
        run_id = str(r.id)
        metrics = json.loads(r.metrics) if r.metrics else {}
        outs = outputs.get(run_id, {})
        records.append(
            RunRecord(
                run_id=run_id,
                name=r.name,
                status=str(r.status),
                created_at=str(r.created_at),
                seconds=None if r.seconds is None else float(r.seconds),
                cache_source=r.cache_source,
                metrics={k: decode_metric(v) for k, v in (metrics or {}).items()},
                config=_config(run_dirs[run_id], run_id),
                year=None if r.year is None else int(r.year),
                parent_run_id=r.parent_run_id,
                error=r.error,
                output_dir=next(iter(outs.values())).parent if outs else None,
                plugin_set=r.plugin_set,
                inputs=inputs.get(run_id, {}),
                outputs=outs,
            )
        )
    return _fill_hit_outputs(records, outputs)


def _fill_hit_outputs(
    records: list[RunRecord], outputs: Mapping[str, Mapping[str, Path]]
) -> list[RunRecord]:
    """A cache hit without output links of its own points at the reused run's folder."""
    from dataclasses import replace

    out = []
    for record in records:
        source = record.cache_source
        if record.output_dir is None and source is not None and outputs.get(source):
            folder = next(iter(outputs[source].values())).parent
            record = replace(record, output_dir=folder, outputs=dict(outputs[source]))
        out.append(record)
    return out


@dataclass(frozen=True)
class WorkspaceSummary:
    """Counts over every run of a workspace's domains."""

    domains: dict[str, int]
    executed: int
    cached: int
    failed: int
    seconds: float
    plugin_sets: dict[str, int]


def workspace_summary(records: Mapping[str, list[RunRecord]]) -> WorkspaceSummary:
    """Executed / cached / failed counts, time spent and plugin sets over ``records``."""
    executed = cached = failed = 0
    seconds = 0.0
    plugin_sets: dict[str, int] = {}
    for runs in records.values():
        for run in runs:
            if run.status == "failed":
                failed += 1
            elif run.cache_hit:
                cached += 1
            elif run.status == "completed":
                executed += 1
            if not run.cache_hit and run.seconds is not None:
                seconds += run.seconds
            if run.plugin_set:
                plugin_sets[run.plugin_set] = plugin_sets.get(run.plugin_set, 0) + 1
    return WorkspaceSummary(
        domains={d: len(r) for d, r in records.items()},
        executed=executed,
        cached=cached,
        failed=failed,
        seconds=seconds,
        plugin_sets=dict(sorted(plugin_sets.items(), key=lambda kv: -kv[1])),
    )
