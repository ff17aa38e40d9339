"""Portable, verified run bundles: move runs, their files and their cache between workspaces.

[`export_runs`][trackyard.export_runs] writes one archive (``trackyard export``) holding each
selected run's record (consist's JSON snapshot), its output files, its input files by content
hash, the kept source of its keyed code and the plugin lock, with a manifest of every member's
sha256 (the layout is in ``_bundle``). A selected cache hit brings the run that executed it (its
outputs are that run's files). A completed run whose outputs are missing or changed since they
were recorded is left out, and the report says why.

[`import_runs`][trackyard.import_runs] (``trackyard import``) verifies every member before it
touches the workspace, then places the files (outputs under ``runs/``, inputs under ``inputs/``,
kept sources under ``sources/``), writes the snapshots and merges the runs' rows in one
transaction. Runs the workspace already holds are skipped, so importing twice changes nothing.
Imported runs serve cache hits: the same model, config, inputs and code give a hit with the
bundle's outputs. A bundle made with another plugin set is imported with a
[`BundlePluginSetWarning`][trackyard.errors.BundlePluginSetWarning] and its runs are marked.
"""

from __future__ import annotations

import json
import os
import socket
import warnings
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from trackyard import _bundle
from trackyard._bundle import Member, sha256_file
from trackyard._consist.schema import PHYSICAL_RUN_DIR
from trackyard._layout import (
    CACHE_SOURCE,
    IMPORTED,
    INPUTS_DIR,
    SNAPSHOT_DIR,
    SOURCES_DIR,
    STAMP,
)
from trackyard._store import Store
from trackyard._version import __version__
from trackyard.errors import (
    BundleError,
    BundlePluginSetWarning,
    ConfigValidationError,
    UnknownRunError,
)

__all__ = ["ExportReport", "ImportReport", "export_runs", "import_runs"]

Location = str | os.PathLike[str] | None
Payload = dict[str, Any]
_LOCK_MEMBER = "plugins.lock.toml"


@dataclass(frozen=True)
class ExportReport:
    """What [`export_runs`][trackyard.export_runs] wrote: the bundle, its runs (``added`` of
    them because a selected cache hit reused them), the runs left out and why, and its size."""

    path: Path
    runs: tuple[str, ...]
    added: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    members: int = 0
    size: int = 0

    def __str__(self) -> str:
        extra = f" ({len(self.added)} added: cache hits reuse them)" if self.added else ""
        lines = [
            f"exported {len(self.runs)} run(s){extra} to {self.path} "
            f"({self.members} files, {self.size} bytes)"
        ]
        lines += [f"  left out {run}: {why}" for run, why in self.skipped]
        return "\n".join(lines)


@dataclass(frozen=True)
class ImportReport:
    """What [`import_runs`][trackyard.import_runs] did: the runs it added, those the workspace
    already held (untouched), and whether the bundle was made with another plugin set."""

    bundle: Path
    workspace: Path
    imported: tuple[str, ...] = ()
    already: tuple[str, ...] = ()
    files: int = 0
    plugin_set_differs: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        if not self.imported:
            return (
                f"import: nothing to do; the {len(self.already)} run(s) of {self.bundle} are "
                f"already in {self.workspace}"
            )
        lines = [
            f"imported {len(self.imported)} run(s) and {self.files} file(s) from {self.bundle} "
            f"into {self.workspace}"
            + (f" ({len(self.already)} already there, left alone)" if self.already else "")
        ]
        lines += [f"Warning: {note}" for note in self.notes]
        return "\n".join(lines)


# --- export -------------------------------------------------------------------------------------


def _since(value: str | date | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise ConfigValidationError(
            f"--since {value!r}: expected a date or time such as 2026-12-01 or 2026-12-01T09:30"
        ) from None


def _utc(moment: datetime) -> datetime:
    """A time in UTC; one without a zone is read as UTC (consist records times in UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _select(
    store: Store, domain: str | None, runs: Sequence[str] | None, since: datetime | None
) -> list[str]:
    """The ids of the runs to export, oldest first; an unknown ``--run`` id raises."""
    from trackyard._consist.schema import EXPORTABLE_RUNS_SQL

    rows = []
    if store.db_path.is_file():
        rows = store.query(EXPORTABLE_RUNS_SQL, what="choosing runs to export")
    wanted = None if not runs else set(runs)
    chosen = [
        str(run_id)
        for run_id, run_domain, created in rows
        if (domain is None or run_domain == domain)
        and (wanted is None or str(run_id) in wanted)
        and (since is None or _utc(created) >= _utc(since))
    ]
    if wanted is not None:
        unknown = sorted(wanted - {str(r[0]) for r in rows})
        if unknown:
            raise UnknownRunError(unknown[0], store.db_path.parent, store.db_path)
    return chosen


def _snapshot(store: Store, run_id: str) -> tuple[Payload, bytes]:
    path = store.run_dir / SNAPSHOT_DIR / f"{run_id}.json"
    try:
        data = path.read_bytes()
        payload: Payload = json.loads(data)
    except (OSError, ValueError) as exc:
        raise BundleError(
            f"run {run_id}: its record {path} cannot be read ({exc}); repair the workspace "
            "with `trackyard doctor --fix` first"
        ) from exc
    return payload, data


def _with_sources(
    store: Store, chosen: list[str]
) -> tuple[dict[str, tuple[Payload, bytes]], list[str]]:
    """The snapshots of ``chosen`` and of every run a chosen cache hit reused (added)."""
    found: dict[str, tuple[Payload, bytes]] = {}
    added: list[str] = []
    selected = set(chosen)
    todo = deque(chosen)
    while todo:
        run_id = todo.popleft()
        if run_id in found:
            continue
        found[run_id] = _snapshot(store, run_id)
        source = (found[run_id][0]["run"].get("meta") or {}).get(CACHE_SOURCE)
        if source and str(source) not in found:
            if str(source) not in selected:
                selected.add(str(source))
                added.append(str(source))
            todo.append(str(source))
    return found, added


def _local(uri: str, run_dir: Path) -> Path | None:
    if "://" in uri:
        return None  # a mount: resolved only by a tracker that knows it
    path = Path(uri)
    return path if path.is_absolute() else run_dir / path


def _output_members(payload: Payload, run_dir: Path) -> tuple[list[Member], str | None]:
    """The output files of a run as members (``files/<path under run_dir>``), or why the run
    cannot travel (an output missing, changed, or outside the run folder)."""
    members: list[Member] = []
    completed = payload["run"].get("status") == "completed"
    for artifact in payload.get("outputs") or []:
        key, uri = artifact.get("key"), str(artifact.get("container_uri", ""))
        path = _local(uri, run_dir)
        if path is None:
            return [], f"output {key!r} ({uri}) is on a mount; only local files travel"
        try:
            relative = path.resolve().relative_to(run_dir.resolve())
        except ValueError:
            return [], f"output {key!r} ({path}) is outside the run folder {run_dir}"
        if not path.is_file():
            if completed:
                return [], f"output {key!r} ({path}) is missing"
            continue
        digest = sha256_file(path)
        if completed and artifact.get("hash") and digest != artifact["hash"]:
            return [], f"output {key!r} ({path}) was changed since it was recorded"
        name = f"files/{relative.as_posix()}"
        members.append(Member(name, digest, path.stat().st_size, source=path))
    return members, None


def _input_members(payload: Payload, run_dir: Path) -> list[Member]:
    """The run's raw input files (not another run's outputs), by content hash."""
    members = []
    for artifact in payload.get("inputs") or []:
        path = _local(str(artifact.get("container_uri", "")), run_dir)
        if path is None or not path.is_file():
            continue
        digest = sha256_file(path)
        members.append(Member(f"{INPUTS_DIR}/{digest}", digest, path.stat().st_size, source=path))
    return members


def _source_members(payload: Payload, workspace: Path) -> list[Member]:
    """The kept source of the run's keyed files and its code manifests, where they exist."""
    meta = payload["run"].get("meta") or {}
    identity = (meta.get(STAMP) or {}).get("identity") or {}
    wanted = []
    for entry in identity.values():
        digest = str((entry or {}).get("sha256") or "")
        if digest:
            wanted.append(f"{SOURCES_DIR}/{digest[:2]}/{digest}.gz")
    for label, digest in (meta.get("consist_hash_inputs") or {}).items():
        if str(label).startswith("codeset:"):
            wanted.append(f"{SOURCES_DIR}/keys/{digest}.txt")
    members = []
    for name in wanted:
        path = workspace / name
        if path.is_file():
            members.append(Member(name, sha256_file(path), path.stat().st_size, source=path))
    return members


def export_runs(
    output: str | os.PathLike[str],
    domain: str | None = None,
    *,
    workspace: Location = None,
    runs: Sequence[str] | None = None,
    since: str | date | datetime | None = None,
    inputs: bool = True,
) -> ExportReport:
    """Write the runs of ``workspace`` (those of ``domain``, the ids in ``runs``, those created
    at or after ``since``; all finished runs by default) to the bundle ``output`` (``.tar``,
    ``.tar.gz``/``.tgz`` or ``.tar.zst``). ``inputs=False`` leaves input files out. Raises
    [`UnknownRunError`][trackyard.errors.UnknownRunError] for an id the store lacks and
    [`BundleError`][trackyard.errors.BundleError] when nothing matches; the bundle is written
    atomically (a temporary file renamed at the end)."""
    from trackyard.recovery import resolve_store

    target = Path(output)
    _bundle.check_suffix(target)
    moment = _since(since)
    ws, store = resolve_store(workspace)
    chosen = _select(store, domain, runs, moment)
    if not chosen:
        what = f"domain {domain!r}" if domain else "the workspace"
        when = f" created since {moment:%Y-%m-%d %H:%M}" if moment else ""
        raise BundleError(f"nothing to export: no finished runs of {what}{when} in {ws}")
    found, added = _with_sources(store, chosen)
    members, skipped, kept = _members(found, store.run_dir, ws, inputs)
    manifest = _manifest(kept)
    size = _bundle.write_bundle(target, manifest, members)
    return ExportReport(
        target,
        tuple(kept),
        tuple(a for a in added if a in kept),
        tuple(skipped),
        len(members) + 1,
        size,
    )


def _members(
    found: dict[str, tuple[Payload, bytes]], run_dir: Path, ws: Path, inputs: bool
) -> tuple[list[Member], list[tuple[str, str]], list[str]]:
    """Every member of the bundle, the runs left out (and why) and the runs kept."""
    from trackyard.installer import export_lock

    by_name: dict[str, Member] = {}
    skipped: list[tuple[str, str]] = []
    kept: list[str] = []
    bad: set[str] = set()
    for run_id, (payload, data) in found.items():
        outputs, why = _output_members(payload, run_dir)
        if why is not None:
            skipped.append((run_id, why))
            bad.add(run_id)
            continue
        kept.append(run_id)
        extra = [*outputs, *_source_members(payload, ws)]
        if inputs:
            extra += _input_members(payload, run_dir)
        for member in [Member.of_bytes(f"runs/{run_id}.json", data), *extra]:
            by_name.setdefault(member.name, member)
    for run_id in list(kept):  # a hit whose executing run was left out cannot be served
        source = (found[run_id][0]["run"].get("meta") or {}).get(CACHE_SOURCE)
        if source and str(source) in bad:
            kept.remove(run_id)
            by_name.pop(f"runs/{run_id}.json", None)
            skipped.append((run_id, f"the run it reused ({source}) was left out"))
    lock = Member.of_bytes(_LOCK_MEMBER, export_lock().to_toml().encode("utf-8"))
    return [lock, *sorted(by_name.values(), key=lambda m: m.name)], skipped, kept


def _manifest(runs: Iterable[str]) -> dict[str, Any]:
    from trackyard.registry import plugin_set_fingerprint

    return {
        "format": _bundle.FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "trackyard": __version__,
        "plugin_set": plugin_set_fingerprint(),
        "runs": list(runs),
    }


# --- import -------------------------------------------------------------------------------------


def import_runs(bundle: str | os.PathLike[str], *, workspace: Location = None) -> ImportReport:
    """Verify the bundle, then add its runs to ``workspace`` (the configured one by default).

    Every member is checked against the manifest's sha256 before anything is written; a bad
    one raises [`BundleError`][trackyard.errors.BundleError] naming it, and the workspace is
    unchanged. Runs the workspace already holds are left alone (importing twice changes
    nothing). A bundle made with another plugin set warns
    ([`BundlePluginSetWarning`][trackyard.errors.BundlePluginSetWarning]) and marks its runs."""
    from trackyard.registry import plugin_set_fingerprint
    from trackyard.settings import NoOptions, resolve_settings

    path = Path(bundle)
    keywords = {} if workspace is None else {"workspace": workspace}
    settings = resolve_settings("*", NoOptions, keywords)
    store = Store.of(settings)
    verified = _bundle.read_bundle(path, lambda name: name.startswith("runs/"))
    manifest = verified.manifest
    payloads = _payloads(path, verified.kept, manifest)
    held = _held(store, [str(p["run"]["id"]) for p in payloads])
    new = [p for p in payloads if str(p["run"]["id"]) not in held]
    differs = manifest.get("plugin_set") != plugin_set_fingerprint()
    if not new:
        return ImportReport(path, settings.workspace, already=tuple(sorted(held)))
    notes = _plugin_note(path, manifest) if differs else ()
    _stamp(new, store.run_dir, manifest, differs)
    files = _place(path, manifest, settings.workspace, store, new)
    return ImportReport(
        path,
        settings.workspace,
        tuple(str(p["run"]["id"]) for p in new),
        tuple(sorted(held)),
        files,
        differs,
        notes,
    )


def _payloads(path: Path, kept: dict[str, bytes], manifest: dict[str, Any]) -> list[Payload]:
    out = []
    for run_id in manifest.get("runs") or []:
        name = f"runs/{run_id}.json"
        try:
            payload: Payload = json.loads(kept[name])
            if str(payload["run"]["id"]) != str(run_id):
                raise ValueError(f"it records run {payload['run']['id']!r}")
        except (ValueError, KeyError, TypeError) as exc:
            raise BundleError(
                f"bundle {path}: member {name!r} is not a run record ({exc}); nothing was imported"
            ) from None
        out.append(payload)
    return out


def _held(store: Store, ids: list[str]) -> set[str]:
    """Which of ``ids`` the store already holds (none when it does not exist yet)."""
    from trackyard._consist.schema import RUNS_AMONG_SQL

    if not ids or not store.db_path.is_file():
        return set()
    rows = store.query(RUNS_AMONG_SQL, {"ids": ids}, what="checking which runs are new")
    return {str(r[0]) for r in rows}


def _plugin_note(path: Path, manifest: dict[str, Any]) -> tuple[str, ...]:
    note = (
        f"bundle {path} was made with another plugin set ({manifest.get('plugin_set')}) than "
        "the one installed here; its runs are imported and marked "
        f'(meta["{STAMP}"]["{IMPORTED}"]["plugin_set_differs"]); its code may differ, so they '
        f"may not serve cache hits. Restore its plugins with `trackyard install -r` on the "
        f"bundle's {_LOCK_MEMBER}"
    )
    warnings.warn(note, BundlePluginSetWarning, stacklevel=3)
    return (note,)


def _stamp(payloads: list[Payload], run_dir: Path, manifest: dict[str, Any], differs: bool) -> None:
    """Point each run at this workspace's run folder (consist resolves its outputs from it)
    and record where it came from; the same bundle always stamps the same values."""
    origin = {
        "host": manifest.get("host"),
        "created_at": manifest.get("created_at"),
        "plugin_set": manifest.get("plugin_set"),
        "plugin_set_differs": differs,
    }
    for payload in payloads:
        run = payload["run"]
        meta = dict(run.get("meta") or {})
        meta[PHYSICAL_RUN_DIR] = str(run_dir)
        meta[STAMP] = {**(meta.get(STAMP) or {}), IMPORTED: origin}
        run["meta"] = meta


def _destination(name: str, workspace: Path, run_dir: Path) -> Path | None:
    head, _, rest = name.partition("/")
    if head == "files":
        return run_dir / rest
    if head == INPUTS_DIR:
        return workspace / INPUTS_DIR / rest[:2] / rest
    if head == SOURCES_DIR:
        return workspace / name
    return None  # the manifest, run records and the lock are not copied as such


def _places(manifest: dict[str, Any], workspace: Path, run_dir: Path) -> dict[str, Path]:
    """Where each file member goes; a place holding other bytes raises before anything is
    written; one holding the same bytes is left as it is."""
    places = {}
    for name, digest in manifest["members"].items():
        target = _destination(name, workspace, run_dir)
        if target is None:
            continue
        if target.exists():
            if not target.is_file() or sha256_file(target) != digest:
                raise BundleError(
                    f"member {name!r} would replace {target}, which holds other content; "
                    "nothing was imported. Import into another workspace (--workspace), or "
                    "move that file aside"
                )
            continue
        places[name] = target
    return places


def _place(
    path: Path, manifest: dict[str, Any], workspace: Path, store: Store, new: list[Payload]
) -> int:
    """Write the files, the snapshots, then merge the rows in one transaction; on a failure
    the files this import added are removed again. How many files were added."""
    from trackyard import _metrics_index
    from trackyard._consist import contents, restore
    from trackyard._consist.tracker import create_schema

    places = _places(manifest, workspace, store.run_dir)
    written: list[Path] = []
    try:
        _bundle.extract(path, places, written)
        snapshots = store.run_dir / SNAPSHOT_DIR
        snapshots.mkdir(parents=True, exist_ok=True)
        for payload in new:
            target = snapshots / f"{payload['run']['id']}.json"
            existed = target.exists()
            target.write_text(json.dumps(payload), encoding="utf-8")
            if not existed:
                written.append(target)
        if not store.db_path.is_file():
            create_schema(store)
        restore.restore(store, new, [], atomic=True)
    except BaseException:
        for done in written:
            done.unlink(missing_ok=True)
        raise
    # The snapshots name the content rows this store holds (its own, for bytes it had).
    contents.keep_all(store, [snapshots / f"{payload['run']['id']}.json" for payload in new])
    # Only the imported runs are indexed (they are new ids): re-indexing a big workspace's
    # every run for a small bundle would cost seconds per million runs.
    _metrics_index.catch_up(store.db_path, timeout=store.timeout)
    return len(places)
