"""Reconcile, audit and rebuild a workspace's store from consist's JSON run snapshots.

consist writes ``run_dir/consist_runs/<run id>.json`` before it touches the DB, so the snapshots
are the record of truth: a DB row lost to a lock, a DB deleted or damaged, or a run left
``running`` by a killed process can all be repaired from them.

* ``audit`` compares snapshots with DB rows and reports every difference (read-only);
* ``reconcile`` marks stale ``running`` runs (their process is gone) as ``failed`` +
  interrupted, in the snapshot and the DB, restores missing rows and statuses, and removes
  the records of sweeps in flight whose driver is gone (``_inflight``); runs still
  running in a live process (a sweep's worker, a Dask worker whose client is gone) are left
  alone until they end; it is idempotent and reports what it changed;
* ``rebuild`` recreates the DB from the snapshots; a damaged one is moved aside under a
  dated name (``provenance.duckdb.damaged-YYYYmmddHHMMSS``), never deleted;
* ``audit_outputs`` checks completed runs' output files against their recorded hashes and,
  with ``fix``, marks damaged runs so they are never served as cache hits again.

Every function finds the store and run folder exactly as ``get_tracker`` does (keywords, then
``TRACKYARD_*`` variables, then ``pyproject.toml``), and reaches the store only through the
store access layer (``_store.Store``).
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from trackyard import _inflight, _metrics_index, _queries, _shards
from trackyard._consist import contents as _contents
from trackyard._consist import restore as _restore
from trackyard._consist import snapshot as _snapshot
from trackyard._consist.merge import Merger
from trackyard._consist.tracker import create_schema, file_checksum
from trackyard._layout import CACHE_SOURCE, HOST, INTERRUPTED, INVALIDATED, PID, STAMP, WAL_SUFFIX
from trackyard._store import Store, pid_alive, schema_marker, snapshots
from trackyard.errors import StoreCorruptError, StoreUnavailableError
from trackyard.settings import NoOptions, resolve_settings

__all__ = [
    "AuditReport",
    "OutputReport",
    "ReconcileReport",
    "audit",
    "audit_outputs",
    "rebuild",
    "reconcile",
    "recorded_plugin_sets",
]


@dataclass(frozen=True)
class AuditReport:
    """Differences between snapshots and DB rows; ``ok`` when there are none."""

    missing_rows: tuple[str, ...] = ()
    status_mismatches: tuple[tuple[str, str, str], ...] = ()  # (run id, snapshot, db)
    stale_running: tuple[str, ...] = ()
    # Still running in a live process (a sweep's worker records into its shard): no row yet,
    # or not its final one; not a difference.
    in_flight: tuple[str, ...] = ()
    # DB rows without a snapshot: a rebuild of a damaged store would lose them.
    unprotected: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not (
            self.missing_rows or self.status_mismatches or self.stale_running or self.unprotected
        )

    def __str__(self) -> str:
        running = (
            f" ({len(self.in_flight)} run(s) still running, left alone until they end: "
            f"{', '.join(self.in_flight)})"
            if self.in_flight
            else ""
        )
        if self.ok:
            return f"audit: snapshots and DB agree{running}"
        lines = [f"audit found differences{running}:"]
        lines += [f"  - run {r}: snapshot has no DB row" for r in self.missing_rows]
        lines += [
            f"  - run {r}: snapshot says {s!r}, DB says {d!r}" for r, s, d in self.status_mismatches
        ]
        lines += [
            f"  - run {r}: left 'running' by a process that is gone" for r in self.stale_running
        ]
        lines += [
            f"  - run {r}: DB row has no snapshot (unprotected: rebuilding a damaged store would "
            "lose it; `trackyard doctor --fix` re-creates its snapshot from the DB)"
            for r in self.unprotected
        ]
        return "\n".join(lines)


@dataclass(frozen=True)
class ReconcileReport:
    """What [`reconcile`][trackyard.reconcile] changed; empty when there was nothing to do."""

    marked_interrupted: tuple[str, ...] = ()
    rows_restored: tuple[str, ...] = ()
    statuses_fixed: tuple[str, ...] = ()
    errors: tuple[str, ...] = field(default_factory=tuple)
    moved_aside: tuple[str, ...] = ()  # damaged store files kept under a dated name
    in_flight: tuple[str, ...] = ()  # still running in a live process: left alone
    snapshots_recreated: tuple[str, ...] = ()  # DB rows that had none: written from the DB
    # Runs the store held (its readable rows, or their output folders) that no snapshot
    # could bring back: lost by a rebuild, and listed so that it never reports success.
    lost: tuple[str, ...] = ()
    runs_before: int | None = None  # runs in the store before (None: it could not be read)
    runs_after: int | None = None
    # Records of sweeps in flight whose driver is gone (killed): removed (their ids).
    sweeps_ended: tuple[str, ...] = ()
    # Restored runs whose snapshot predates kept content rows: their artifact content rows
    # were approximated (docs/trust.md says which columns, and how).
    approximated: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(
            self.marked_interrupted
            or self.rows_restored
            or self.statuses_fixed
            or self.moved_aside
            or self.snapshots_recreated
            or self.sweeps_ended
        )

    @property
    def ok(self) -> bool:
        """Whether everything the store held is there (or protected by a snapshot) now."""
        return not (self.errors or self.lost)

    def __str__(self) -> str:
        if not self.changed and self.ok and not self.in_flight:
            return "reconcile: nothing to do"
        lines = [f"reconcile{self._counts()}:"]
        lines += [
            f"  - damaged store moved aside to {p}; rebuilt from the snapshots"
            for p in self.moved_aside
        ]
        lines += [f"  - marked interrupted: {r}" for r in self.marked_interrupted]
        lines += [f"  - restored DB row: {r}" for r in self.rows_restored]
        lines += [f"  - fixed DB status: {r}" for r in self.statuses_fixed]
        lines += [
            f"  - re-created the snapshot of {r} from its DB row" for r in self.snapshots_recreated
        ]
        lines += [f"  - left alone, still running in its process: {r}" for r in self.in_flight]
        lines += [
            f"  - removed the record of sweep {s}: its driver is gone" for s in self.sweeps_ended
        ]
        if self.approximated:
            lines.append(
                f"  - {len(self.approximated)} run(s) restored from snapshots written before "
                "trackyard kept their rows' timestamps: their artifact_content id and "
                "created_at, config_facet and run_config_kv created_at are approximated "
                "(docs/trust.md)"
            )
        lines += [f"  ! {e}" for e in self.errors]
        if self.lost:
            lines.append(
                f"  ! {len(self.lost)} run(s) the damaged store held could not be restored (no "
                f"snapshot, and their rows were unreadable): {', '.join(self.lost)}; the damaged "
                "file is kept beside the store"
            )
        return "\n".join(lines)

    def _counts(self) -> str:
        if self.runs_before is None and self.runs_after is None:
            return ""
        before = "unreadable" if self.runs_before is None else str(self.runs_before)
        return f" (runs in the store: {before} before, {self.runs_after} after)"


Location = str | os.PathLike[str] | None


def resolve_store(
    workspace: Location = None, *, db_path: Location = None, run_dir: Location = None
) -> tuple[Path, Store]:
    """The workspace and store that settings resolve, as ``get_tracker`` resolves them."""
    keywords = {
        key: value
        for key, value in (("workspace", workspace), ("db_path", db_path), ("run_dir", run_dir))
        if value is not None
    }
    settings = resolve_settings("*", NoOptions, keywords)
    if not (settings.workspace.is_dir() or settings.db_path.exists() or settings.run_dir.is_dir()):
        raise StoreUnavailableError(
            f"workspace {settings.workspace} does not exist, and there is no store at "
            f"{settings.db_path} nor a run folder at {settings.run_dir}"
        )
    return settings.workspace, Store.of(settings)


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _is_stale(run: dict[str, Any]) -> bool:
    """A ``running`` run whose process is gone: recorded on this host with a pid that no longer
    exists, or without any trackyard stamp. Runs of other hosts are left alone."""
    if run.get("status") != "running":
        return False
    stamp = (run.get("meta") or {}).get(STAMP) or {}
    pid, host = stamp.get(PID), stamp.get(HOST)
    if not isinstance(pid, int):
        return True
    if host != socket.gethostname() or pid == os.getpid():
        return False
    return not pid_alive(pid)


def recorded_plugin_sets(
    workspace: Location = None, *, db_path: Location = None, run_dir: Location = None
) -> dict[str, int]:
    """How many runs of ``workspace`` recorded each plugin-set fingerprint (most used first);
    compare with ``trackyard.plugin_set_fingerprint()``. Read-only; ``{}`` without a DB."""
    _, store = resolve_store(workspace, db_path=db_path, run_dir=run_dir)
    if not store.db_path.exists():
        return {}
    return _queries.plugin_set_counts(store.db_path, store.timeout)


def audit(
    workspace: Location = None, *, db_path: Location = None, run_dir: Location = None
) -> AuditReport:
    """Compare every JSON snapshot with its DB row, and every DB row with its snapshot;
    read-only. The store and run folder are those settings resolve (keywords,
    ``TRACKYARD_*`` variables, ``pyproject.toml``)."""
    _, store = resolve_store(workspace, db_path=db_path, run_dir=run_dir)
    run_dir = store.run_dir
    db = _queries.run_statuses(store.db_path, store.timeout) if store.db_path.exists() else {}
    missing, mismatched, stale, in_flight = [], [], [], []
    seen: set[str] = set()
    for path in snapshots(run_dir):
        run = _load(path)["run"]
        run_id = str(run["id"])
        seen.add(run_id)
        if _is_stale(run):
            stale.append(run_id)
        elif run.get("status") == "running" and db.get(run_id) != "running":
            # Not stale, so in flight: its process is alive (or on another host).
            in_flight.append(run_id)  # its row comes when it ends (a worker's shard is merged)
            continue
        if run_id not in db:
            missing.append(run_id)
        elif db[run_id] != run["status"]:
            mismatched.append((run_id, str(run["status"]), db[run_id]))
    return AuditReport(
        tuple(missing),
        tuple(mismatched),
        tuple(stale),
        tuple(in_flight),
        unprotected=_unprotected(db, seen),
    )


def _unprotected(db: dict[str, str], snapshotted: set[str]) -> tuple[str, ...]:
    """DB rows of finished runs that have no snapshot (a running one gets its own)."""
    return tuple(
        sorted(r for r, status in db.items() if r not in snapshotted and status != "running")
    )


def reconcile(
    workspace: Location = None, *, db_path: Location = None, run_dir: Location = None
) -> ReconcileReport:
    """Repair the store from its snapshots; idempotent; returns what changed.

    A missing, truncated or damaged store is rebuilt ([`rebuild`][trackyard.recovery.rebuild]);
    shards a killed sweep left are merged (those of workers still alive are left alone); stale
    ``running`` runs are marked ``failed`` (interrupted); missing rows and statuses are restored.
    """
    ws, store = resolve_store(workspace, db_path=db_path, run_dir=run_dir)
    if not store.db_path.exists():
        return rebuild(ws, db_path=store.db_path, run_dir=store.run_dir)
    try:
        store.check(deep=True)
    except StoreCorruptError:
        return rebuild(ws, db_path=store.db_path, run_dir=store.run_dir)
    return _reconcile(ws, store)


@dataclass
class _Scan:
    """What the snapshots say needs doing (``_scan``)."""

    marked: list[str] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)
    todo: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)


def _scan(run_dir: Path, db_rows: dict[str, str]) -> _Scan:
    """Read every snapshot: mark stale runs interrupted, collect those the DB lacks."""
    scan = _Scan()
    for path in snapshots(run_dir):
        try:
            payload = _load(path)
        except (OSError, ValueError) as exc:
            scan.errors.append(f"{path.name}: unreadable snapshot ({exc})")
            continue
        run = payload["run"]
        run_id = str(run["id"])
        scan.seen.add(run_id)
        if _is_stale(run):
            meta = dict(run.get("meta") or {})
            meta[STAMP] = {**(meta.get(STAMP) or {}), INTERRUPTED: "process gone"}
            meta["error"] = "interrupted: the process running it ended without closing it"
            run["meta"], run["status"] = meta, "failed"
            tmp = path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(payload, indent=2), encoding="utf-8")
            tmp.replace(path)
            scan.marked.append(run_id)
        elif run.get("status") == "running":
            # Not stale, so in flight: its process records it (a sweep worker into its shard,
            # merged once it ends); a row restored now would stay 'running' when the shard's
            # rows are merged.
            if db_rows.get(run_id) != "running":
                scan.in_flight.append(run_id)
            continue
        if db_rows.get(run_id) != run["status"]:
            scan.todo.append(payload)
    return scan


def _reconcile(
    ws: Path,
    store: Store,
    rebuilt: tuple[str, ...] = (),
    known: tuple[set[str], int | None] | None = None,
) -> ReconcileReport:
    """Repair ``store`` from the snapshots, and protect its rows that have none. ``known``
    (after a rebuild): the runs the damaged store held, and how many it counted."""
    kept = [
        f"shard {p} could not be merged ({why}); it is kept"
        for p, why in _merge_stale_shards(ws, store)
    ]
    ended = tuple(str(s.record.get("id", s.path.stem)) for s in _inflight.remove_ended(ws))
    db_rows = _queries.run_statuses(store.db_path, store.timeout)
    scan = _scan(store.run_dir, db_rows)
    restored: list[str] = []
    fixed: list[str] = []
    approximated: list[str] = []
    for payload in _restore.restore(store, scan.todo, scan.errors):
        run_id = str(payload["run"]["id"])
        (restored if run_id not in db_rows else fixed).append(run_id)
        if _contents.approximated(payload):
            approximated.append(run_id)
    recreated = _snapshot.recreate(store, _unprotected(db_rows, scan.seen), scan.errors)
    # The metrics index is derived from run rows: rebuilt so it matches the repaired store.
    _metrics_index.rebuild(store.db_path, timeout=store.timeout)
    after = _queries.run_statuses(store.db_path, store.timeout)
    held, before = known if known is not None else (set(db_rows), len(db_rows))
    return ReconcileReport(
        tuple(scan.marked),
        tuple(restored),
        tuple(fixed),
        (*scan.errors, *kept),
        moved_aside=rebuilt,
        in_flight=tuple(scan.in_flight),
        snapshots_recreated=tuple(recreated),
        lost=tuple(sorted(held - set(after) - set(scan.in_flight))),
        runs_before=before,
        runs_after=len(after),
        sweeps_ended=ended,
        approximated=tuple(approximated),
    )


def _merge_stale_shards(ws: Path, store: Store) -> list[tuple[Path, str]]:
    """Merge the shards of sweeps whose driver is gone; those that could not be, and why."""
    if not _shards.has_sweeps(ws):
        return []
    return _shards.recover(ws, Merger(store, _metrics_index.index_merged))


def rebuild(
    workspace: Location = None, *, db_path: Location = None, run_dir: Location = None
) -> ReconcileReport:
    """Recreate the store from its snapshots; an existing (damaged) file is moved aside under
    a dated name first, never deleted. Runs, artifacts, links, metrics and plugin sets (all in
    the snapshots) come back. Before that, the rows the damaged file can still give up that
    have no snapshot get one; runs it held (its readable rows, or their output folders) that
    nothing brings back are reported as ``lost``, so a rebuild never reports success over them.
    """
    ws, store = resolve_store(workspace, db_path=db_path, run_dir=run_dir)
    moved: list[str] = []
    held, before = _held_runs(store)
    if store.db_path.exists():
        aside = store.db_path.with_name(
            f"{store.db_path.name}.damaged-{datetime.now():%Y%m%d%H%M%S}"
        )
        store.db_path.replace(aside)
        moved.append(str(aside))
        wal = Path(f"{store.db_path}{WAL_SUFFIX}")
        if wal.exists():
            wal.replace(Path(f"{aside}{WAL_SUFFIX}"))
    schema_marker(store.db_path).unlink(missing_ok=True)
    store.db_path.parent.mkdir(parents=True, exist_ok=True)
    create_schema(store)
    return _reconcile(ws, store, tuple(moved), known=(held, before))


def _held_runs(store: Store) -> tuple[set[str], int | None]:
    """The runs a (damaged) store held, as far as can be known, and its count of them (None
    when unreadable): its readable rows, and the run folders of its outputs. Rows without a
    snapshot that it can still give up get one now (``_snapshot.recreate``)."""
    held = {p.name for p in store.run_dir.glob("outputs/*/*") if p.is_dir()}
    snapshotted = {p.stem for p in snapshots(store.run_dir)}
    if not store.db_path.is_file():
        return held - snapshotted, None
    short = Store(store.db_path, store.run_dir, min(store.timeout, 2.0))
    try:
        rows = _queries.run_statuses(short.db_path, short.timeout)
    except Exception:
        return held - snapshotted, None
    _snapshot.recreate(short, _unprotected(rows, snapshotted), [])
    return held | set(rows), len(rows)


# --- outputs: are completed runs' files still there, with the recorded content? ---------------


@dataclass(frozen=True)
class OutputReport:
    """Completed runs whose recorded outputs are missing or changed (``(run id, reason)``), and
    those ``--fix`` marked so that they are never served as cache hits again."""

    damaged: tuple[tuple[str, str], ...] = ()
    invalidated: tuple[str, ...] = ()
    checked: int = 0

    @property
    def ok(self) -> bool:
        return not [r for r, _ in self.damaged if r not in self.invalidated]

    def __str__(self) -> str:
        if not self.damaged:
            return f"outputs: all {self.checked} completed runs have their recorded files"
        lines = [f"outputs: {len(self.damaged)} of {self.checked} completed runs are damaged:"]
        for run_id, reason in self.damaged:
            done = " (marked: never served again)" if run_id in self.invalidated else ""
            lines.append(f"  - run {run_id}: {reason}{done}")
        return "\n".join(lines)


def _output_path(uri: str, run_dir: Path) -> Path | None:
    if "://" in uri:
        return None  # a mount: resolved only by a tracker that knows it
    path = Path(uri)
    return path if path.is_absolute() else run_dir / path


def _damage(payload: dict[str, Any], run_dir: Path) -> str | None:
    checksum = file_checksum(run_dir)
    for artifact in payload.get("outputs") or []:
        path = _output_path(str(artifact.get("container_uri", "")), run_dir)
        if path is None:
            continue
        key = artifact.get("key")
        if not path.exists():
            return f"output {key!r} ({path}) is missing"
        recorded = artifact.get("hash")
        if recorded and checksum(path) != recorded:
            return f"output {key!r} ({path}) was changed"
    return None


def audit_outputs(
    workspace: Location = None,
    *,
    db_path: Location = None,
    run_dir: Location = None,
    fix: bool = False,
) -> OutputReport:
    """Check every completed, executed run's outputs against what was recorded (existence and
    content hash). ``fix``: mark the damaged runs ``failed`` (snapshot and DB, with the reason
    in ``meta.trackyard.invalidated``), so no cache lookup ever serves them again."""
    _, store = resolve_store(workspace, db_path=db_path, run_dir=run_dir)
    run_dir = store.run_dir
    damaged: list[tuple[str, str]] = []
    invalidated: list[str] = []
    checked = 0
    fixed: list[dict[str, Any]] = []
    for path in snapshots(run_dir):
        try:
            payload = _load(path)
        except (OSError, ValueError):
            continue  # reported by audit()
        run = payload["run"]
        meta = run.get("meta") or {}
        if run.get("status") != "completed" or meta.get(CACHE_SOURCE):
            continue
        checked += 1
        reason = _damage(payload, run_dir)
        if reason is None:
            continue
        damaged.append((str(run["id"]), reason))
        if not fix:
            continue
        meta = dict(meta)
        meta[STAMP] = {**(meta.get(STAMP) or {}), INVALIDATED: reason}
        run["meta"], run["status"] = meta, "failed"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(payload, indent=2), encoding="utf-8")
        tmp.replace(path)
        fixed.append(payload)
        invalidated.append(str(run["id"]))
    if fixed and store.db_path.exists():
        errors: list[str] = []
        _restore.restore(store, fixed, errors)
        if errors:
            raise StoreUnavailableError("; ".join(errors))
    return OutputReport(tuple(damaged), tuple(invalidated), checked)
