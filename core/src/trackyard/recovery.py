"""Reconcile, audit and rebuild a workspace's store from consist's JSON run snapshots.

consist writes ``run_dir/consist_runs/<run id>.json`` before it touches the DB, so the snapshots
are the record of truth: a DB row lost to a lock, a DB deleted or damaged, or a run left
``running`` by a killed process can all be repaired from them.

* :func:`audit` compares snapshots with DB rows and reports every difference (read-only);
* :func:`reconcile` marks stale ``running`` runs (their process is gone) as ``failed`` +
  interrupted, in the snapshot and the DB, and restores missing rows and statuses; it is
  idempotent and reports what it changed;
* :func:`rebuild` recreates a missing DB from the snapshots (a damaged one is moved aside);
* :func:`audit_outputs` checks completed runs' output files against their recorded hashes and,
  with ``fix``, marks damaged runs so they are never served as cache hits again.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from trackyard import _metrics_index, _queries
from trackyard._layout import CACHE_SOURCE, HOST, INTERRUPTED, INVALIDATED, PID, STAMP, WAL_SUFFIX
from trackyard._store import (
    apply_lock_budget,
    lock_timeout,
    pid_alive,
    schema_marker,
    snapshots,
    workspace_store,
)
from trackyard.errors import StoreUnavailableError

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

_TIME_FIELDS = ("started_at", "ended_at", "created_at", "updated_at")


@dataclass(frozen=True)
class AuditReport:
    """Differences between snapshots and DB rows; ``ok`` when there are none."""

    missing_rows: tuple[str, ...] = ()
    status_mismatches: tuple[tuple[str, str, str], ...] = ()  # (run id, snapshot, db)
    stale_running: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not (self.missing_rows or self.status_mismatches or self.stale_running)

    def __str__(self) -> str:
        if self.ok:
            return "audit: snapshots and DB agree"
        lines = ["audit found differences:"]
        lines += [f"  - run {r}: snapshot has no DB row" for r in self.missing_rows]
        lines += [
            f"  - run {r}: snapshot says {s!r}, DB says {d!r}" for r, s, d in self.status_mismatches
        ]
        lines += [
            f"  - run {r}: left 'running' by a process that is gone" for r in self.stale_running
        ]
        return "\n".join(lines)


@dataclass(frozen=True)
class ReconcileReport:
    """What :func:`reconcile` changed; empty when there was nothing to do."""

    marked_interrupted: tuple[str, ...] = ()
    rows_restored: tuple[str, ...] = ()
    statuses_fixed: tuple[str, ...] = ()
    errors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def changed(self) -> bool:
        return bool(self.marked_interrupted or self.rows_restored or self.statuses_fixed)

    def __str__(self) -> str:
        if not self.changed and not self.errors:
            return "reconcile: nothing to do"
        lines = ["reconcile:"]
        lines += [f"  - marked interrupted: {r}" for r in self.marked_interrupted]
        lines += [f"  - restored DB row: {r}" for r in self.rows_restored]
        lines += [f"  - fixed DB status: {r}" for r in self.statuses_fixed]
        lines += [f"  ! {e}" for e in self.errors]
        return "\n".join(lines)


def _locations(workspace: str | os.PathLike[str]) -> tuple[Path, Path]:
    ws = Path(workspace).absolute()
    if not ws.is_dir():
        raise StoreUnavailableError(f"workspace {ws} does not exist or is not a folder")
    return workspace_store(ws)


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _db_statuses(db_path: Path) -> dict[str, str]:
    return _queries.run_statuses(db_path, lock_timeout())


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


def recorded_plugin_sets(workspace: str | os.PathLike[str]) -> dict[str, int]:
    """How many runs of ``workspace`` recorded each plugin-set fingerprint (most used first);
    compare with ``trackyard.plugin_set_fingerprint()``. Read-only; ``{}`` without a DB."""
    db_path, _ = _locations(workspace)
    if not db_path.exists():
        return {}
    return _queries.plugin_set_counts(db_path, lock_timeout())


def audit(workspace: str | os.PathLike[str]) -> AuditReport:
    """Compare every JSON snapshot in ``workspace`` with its DB row; read-only."""
    db_path, run_dir = _locations(workspace)
    db = _db_statuses(db_path) if db_path.exists() else {}
    missing, mismatched, stale = [], [], []
    for path in snapshots(run_dir):
        run = _load(path)["run"]
        run_id = str(run["id"])
        if _is_stale(run):
            stale.append(run_id)
        if run_id not in db:
            missing.append(run_id)
        elif db[run_id] != run["status"]:
            mismatched.append((run_id, str(run["status"]), db[run_id]))
    return AuditReport(tuple(missing), tuple(mismatched), tuple(stale))


def _parse_times(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    for key in _TIME_FIELDS:
        if isinstance(out.get(key), str):
            out[key] = datetime.fromisoformat(out[key].replace("Z", "+00:00"))
    return out


def _restore(db: Any, payload: dict[str, Any]) -> None:
    """Upsert one snapshot's run row, artifacts and links (consist's own models)."""
    from consist.models.artifact import Artifact  # heavy; only when repairing
    from consist.models.run import Run, RunArtifactLink

    run = Run(**_parse_times(payload["run"]))

    def write() -> None:
        with db.session_scope() as session:
            session.merge(run)
            for direction in ("input", "output"):
                for raw in payload.get(f"{direction}s") or []:
                    data = _parse_times(raw)
                    fields = Artifact.model_fields
                    for key, info in fields.items():
                        if isinstance(data.get(key), str) and "UUID" in str(info.annotation):
                            data[key] = uuid.UUID(data[key])
                    session.merge(Artifact(**{k: v for k, v in data.items() if k in fields}))
                    session.merge(
                        RunArtifactLink(run_id=run.id, artifact_id=data["id"], direction=direction)
                    )
            session.commit()

    db.execute_with_retry(write, "trackyard_restore")


def _open_db(db_path: Path, *, init: bool) -> Any:
    from consist.core.persistence import DatabaseManager  # heavy; only when repairing

    db = DatabaseManager(str(db_path), skip_schema_init=not init)
    apply_lock_budget(db, lock_timeout())
    return db


def reconcile(workspace: str | os.PathLike[str]) -> ReconcileReport:
    """Repair ``workspace`` from its snapshots; idempotent; returns what changed."""
    db_path, run_dir = _locations(workspace)
    if not db_path.exists():
        return rebuild(workspace)
    db_rows = _db_statuses(db_path)
    marked: list[str] = []
    restored: list[str] = []
    fixed: list[str] = []
    errors: list[str] = []
    db = None
    for path in snapshots(run_dir):
        try:
            payload = _load(path)
        except (OSError, ValueError) as exc:
            errors.append(f"{path.name}: unreadable snapshot ({exc})")
            continue
        run = payload["run"]
        run_id = str(run["id"])
        if _is_stale(run):
            meta = dict(run.get("meta") or {})
            meta[STAMP] = {**(meta.get(STAMP) or {}), INTERRUPTED: "process gone"}
            meta["error"] = "interrupted: the process running it ended without closing it"
            run["meta"], run["status"] = meta, "failed"
            tmp = path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(payload, indent=2), encoding="utf-8")
            tmp.replace(path)
            marked.append(run_id)
        if db_rows.get(run_id) == run["status"]:
            continue
        db = db or _open_db(db_path, init=False)
        try:
            _restore(db, payload)
        except Exception as exc:
            errors.append(f"{run_id}: could not restore ({type(exc).__name__}: {exc})")
            continue
        (restored if run_id not in db_rows else fixed).append(run_id)
    # The metrics index is derived from run rows: rebuilt so it matches the repaired store.
    _metrics_index.rebuild(db_path, timeout=lock_timeout())
    return ReconcileReport(tuple(marked), tuple(restored), tuple(fixed), tuple(errors))


def rebuild(workspace: str | os.PathLike[str]) -> ReconcileReport:
    """Recreate the workspace's DB from its snapshots; a damaged DB is moved aside first."""
    db_path, _ = _locations(workspace)
    if db_path.exists():
        aside = db_path.with_name(f"{db_path.name}.damaged-{datetime.now():%Y%m%d%H%M%S}")
        db_path.replace(aside)
        wal = Path(f"{db_path}{WAL_SUFFIX}")
        if wal.exists():
            wal.replace(Path(f"{aside}{WAL_SUFFIX}"))
    schema_marker(db_path).unlink(missing_ok=True)
    db = _open_db(db_path, init=True)
    db.engine.dispose()
    return reconcile(workspace)


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
    from consist.core.identity import IdentityManager  # heavy; only when auditing outputs

    checksum = IdentityManager(project_root=str(run_dir)).compute_file_checksum
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


def audit_outputs(workspace: str | os.PathLike[str], *, fix: bool = False) -> OutputReport:
    """Check every completed, executed run's outputs against what was recorded (existence and
    content hash). ``fix``: mark the damaged runs ``failed`` (snapshot and DB, with the reason
    in ``meta.trackyard.invalidated``), so no cache lookup ever serves them again."""
    db_path, run_dir = _locations(workspace)
    damaged: list[tuple[str, str]] = []
    invalidated: list[str] = []
    checked = 0
    db = None
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
        if db_path.exists():
            db = db or _open_db(db_path, init=False)
            _restore(db, payload)
        invalidated.append(str(run["id"]))
    return OutputReport(tuple(damaged), tuple(invalidated), checked)
