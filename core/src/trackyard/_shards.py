"""Shards: where the workers of a many-run sweep record, and how it reaches the main store.

Each worker (a process, or a thread of a Dask worker) records each task into its own shard
DuckDB file ``<workspace>/shards/<sweep>/<worker>/<run name>-<id>.duckdb``, a copy of an
initialised template; output files go to the main ``runs/`` folder (per-run subfolders),
because consist records output URIs relative to the run folder. The driver merges each shard
into the main store as its task finishes (:class:`Merger`), and merges whatever a killed sweep
left behind before the next sweep starts (:func:`recover`).

Workers check that their plugin set has the driver's fingerprint and fail the task otherwise.

Trackers are built, and the plugin set read, through the public facade (``trackyard.get_tracker``
and ``trackyard.plugin_set_fingerprint``). The facade and the registry sit above this module,
so they are named (``BUILDER``, ``FINGERPRINT``) and resolved when first called, never
imported here: a worker process loads them on its first task.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trackyard import _queries, _session
from trackyard._layout import DRIVER_FILE, SHARDS_DIR, TEMPLATE_DB, WAL_SUFFIX
from trackyard._model import resolve_callable
from trackyard._outcome import Runner, RunOutcome
from trackyard._store import pid_alive, schema_marker
from trackyard.errors import PluginSetMismatchError

BUILDER = "trackyard:get_tracker"
FINGERPRINT = "trackyard:plugin_set_fingerprint"

# --- tasks and the worker side ------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """One run for a worker: how to rebuild the tracker, the model reference, the item."""

    domain: str
    options: Mapping[str, Any]
    fn: str  # "module:qualname"
    name: str
    config: Mapping[str, Any]
    inputs: Mapping[str, Any] | None
    fingerprint: str
    sweep_dir: str


@dataclass(frozen=True)
class Done:
    """What a worker sends back: the shard it recorded into, and the outcome or the error."""

    name: str
    shard: str
    outcome: RunOutcome | None
    error: str | None


def worker_options(dt: Runner) -> dict[str, Any]:
    """The keywords that rebuild this tracker's settings in a worker (shard DB aside)."""
    settings = dt.settings
    options = {
        "workspace": settings.workspace,
        "run_dir": settings.run_dir,
        "cache_epoch": settings.cache_epoch,
    }
    if dataclasses.is_dataclass(settings.options):
        for f in dataclasses.fields(settings.options):
            options[f.name] = getattr(settings.options, f.name)
    return options


def plugin_set_fingerprint() -> str:
    """The installed plugin set's fingerprint, as ``trackyard.plugin_set_fingerprint`` says."""
    return str(resolve_callable(FINGERPRINT)())


def build_tracker(domain: str, **options: Any) -> Runner:
    """``trackyard.get_tracker(domain, **options)``: the default registry's tracker."""
    tracker: Runner = resolve_callable(BUILDER)(domain, **options)
    return tracker


def execute(task: Task) -> Done:
    """Run one config in a worker (module-level, so processes and Dask can pickle it)."""
    found = plugin_set_fingerprint()
    if found != task.fingerprint:
        raise PluginSetMismatchError(
            f"worker {socket.gethostname()} (pid {os.getpid()}) has a different trackyard "
            f"plugin set than the driver (fingerprint {found[:12]} != {task.fingerprint[:12]}); "
            "install the same plugin distributions and versions on every worker"
        )
    tracker, shard = _task_tracker(task)
    fn = resolve_callable(task.fn)
    try:
        with _session.batch(tracker.consist):  # the task's shard is this worker's alone
            outcome = tracker.run(fn, name=task.name, config=task.config, inputs=task.inputs)
    except Exception as exc:
        return Done(task.name, str(shard), None, f"{type(exc).__name__}: {exc}")
    return Done(task.name, str(shard), dataclasses.replace(outcome, result=None), None)


def _task_tracker(task: Task) -> tuple[Runner, Path]:
    """A tracker on a fresh shard for this one task (a copy of the worker's template).

    One shard per task: once the task is done nobody writes to it again, so the driver can
    merge it without lock contention and without ever copying a half-finished run.
    """
    folder = _worker_folder(task)
    template = _worker_template(task, folder)
    shard = folder / f"{task.name}-{uuid.uuid4().hex[:8]}.duckdb"
    shutil.copyfile(template, shard)
    shutil.copyfile(schema_marker(template), schema_marker(shard))
    return build_tracker(task.domain, db_path=shard, **task.options), shard


def _worker_folder(task: Task) -> Path:
    """This worker's folder in the sweep (one per process and thread)."""
    worker = f"{socket.gethostname()}-{os.getpid()}-{threading.get_ident()}"
    folder = Path(task.sweep_dir) / worker
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _worker_template(task: Task, folder: Path) -> Path:
    """The workspace's shared template, or (when the driver made none) this worker's own."""
    shared = Path(task.sweep_dir).parent / TEMPLATE_DB
    if template_is_current(shared):
        return shared
    template = folder / TEMPLATE_DB
    if not template.is_file():
        build_tracker(task.domain, db_path=template, **task.options)
    return template


# --- the template store -------------------------------------------------------------------------


def template_is_current(template: Path) -> bool:
    """A template store (and its schema marker) made by this consist version exists."""
    import consist  # heavy; loaded by now in every process that runs models

    try:
        return template.is_file() and schema_marker(template).read_text(
            encoding="utf-8"
        ).strip() == str(consist.__version__)
    except OSError:
        return False


def make_template(dt: Runner) -> None:
    """Make ``<workspace>/shards/template.duckdb``, an empty initialised store workers copy.

    Built once per workspace (and consist version) by the driver, so no worker pays consist's
    schema set-up (~0.5 s); written under a temporary name and renamed, so a worker never
    copies a half-made one (a worker that finds none makes its own).
    """
    template = dt.workspace / SHARDS_DIR / TEMPLATE_DB
    if template_is_current(template):
        return
    template.parent.mkdir(parents=True, exist_ok=True)
    temporary = template.with_name(f".{uuid.uuid4().hex[:8]}-{TEMPLATE_DB}")
    build_tracker(dt.domain_name, db_path=temporary, **worker_options(dt))  # initialises it
    Path(f"{temporary}{WAL_SUFFIX}").unlink(missing_ok=True)
    os.replace(temporary, template)
    os.replace(schema_marker(temporary), schema_marker(template))


# --- sweeps -------------------------------------------------------------------------------------


def open_sweep(dt: Runner) -> Path:
    """A new sweep folder, marked with this driver's host and pid."""
    sweep = dt.workspace / SHARDS_DIR / f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    sweep.mkdir(parents=True, exist_ok=True)
    (sweep / DRIVER_FILE).write_text(f"{socket.gethostname()} {os.getpid()}\n")
    return sweep


def has_sweeps(dt: Runner) -> bool:
    return (dt.workspace / SHARDS_DIR).is_dir()


def remove_shard(shard: Path) -> None:
    for path in (shard, schema_marker(shard), Path(f"{shard}{WAL_SUFFIX}")):
        path.unlink(missing_ok=True)


def _stale_sweeps(shards_root: Path) -> Iterator[Path]:
    """Sweep folders whose driver process is gone (a killed or crashed sweep)."""
    if not shards_root.is_dir():
        return
    host = socket.gethostname()
    for sweep in sorted(p for p in shards_root.iterdir() if p.is_dir()):
        try:
            owner_host, pid = (sweep / DRIVER_FILE).read_text(encoding="utf-8").split()
        except (OSError, ValueError):
            yield sweep
            continue
        if owner_host == host and not pid_alive(int(pid)):
            yield sweep


def _close_interrupted(shard: Path) -> None:
    """Mark runs a killed worker left ``running`` as failed, so they merge as failures."""
    import duckdb  # heavy (~0.2 s): only when there is a shard to fix

    with contextlib.suppress(duckdb.Error), duckdb.connect(str(shard)) as con:
        con.execute(_queries.MARK_INTERRUPTED_SQL)


def recover(dt: Runner, merger: Merger) -> None:
    """Merge every shard of a killed sweep into the main store, then remove it."""
    for sweep in _stale_sweeps(dt.workspace / SHARDS_DIR):
        ok = True
        for shard in sorted(sweep.glob("*/*.duckdb")):
            if shard.name == TEMPLATE_DB:
                continue
            _close_interrupted(shard)
            ok = merger.merge(shard) and ok
        if ok:
            shutil.rmtree(sweep, ignore_errors=True)


# --- merging ------------------------------------------------------------------------------------


def _merge_db(path: Path) -> Any:
    """A consist ``DatabaseManager`` that opens shards without re-running schema set-up.

    ``DatabaseMaintenance.merge`` (what ``consist db merge`` calls) opens the shard with the
    class of the main DB; schema set-up costs ~0.45 s per open and the shard is already set up.
    """
    from consist.core.persistence import DatabaseManager  # heavy; only when merging

    class _NoSetup(DatabaseManager):
        def __init__(self, db_path: str, **kwargs: Any) -> None:
            kwargs.setdefault("skip_schema_init", True)
            super().__init__(db_path, **kwargs)

    return _NoSetup(str(path))


class Merger:
    """Merges shard DBs into the main store, skipping rows it already holds.

    Equivalent to ``consist db merge SHARD --conflict skip`` for our shards, which are copies
    of a template made by the same consist (so every table has the main store's columns and
    primary keys) and hold no ingested ``global_tables``: one DuckDB connection that ATTACHes
    the shard and runs ``INSERT OR IGNORE`` per table in one transaction (~30 ms, against
    ~200 ms for consist's merge, which opens ~30 connections; on 2 cores the driver's merges
    compete with the workers for CPU). A shard with anything else goes through consist's
    merge.
    """

    def __init__(self, dt: Runner) -> None:
        from consist.core.maintenance import DatabaseMaintenance  # heavy; only when merging

        self._main = Path(dt.settings.db_path)
        self._maintenance = DatabaseMaintenance(
            db=_merge_db(dt.settings.db_path), run_dir=dt.settings.run_dir
        )

    def merge(self, shard: Path, attempts: int = 5) -> bool:
        """Merge ``shard``; True when done. Runs already in the main store are skipped."""
        if not shard.is_file():
            return True
        for attempt in range(attempts):
            try:
                if not self._merge_sql(shard):
                    self._maintenance.merge(shard, conflict="skip", include_snapshots=False)
                return True
            except Exception:  # a worker holds the shard's lock: try again shortly
                time.sleep(0.2 * (attempt + 1))
        return False

    def _merge_sql(self, shard: Path) -> bool:
        """The one-connection merge; False (nothing written) when the shard needs consist's."""
        import duckdb  # heavy; only when merging

        with duckdb.connect(str(self._main)) as con:
            con.execute(_queries.ATTACH_SHARD_SQL, {"path": str(shard)})
            try:
                tables = self._copyable_tables(con)
                if tables is None:
                    return False
                con.execute("BEGIN TRANSACTION")
                for table, columns in sorted(tables.items()):
                    con.execute(_queries.copy_table_sql(table, columns))
                con.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                raise
        return True

    @staticmethod
    def _copyable_tables(con: Any) -> dict[str, list[str]] | None:
        """The shard's tables and columns, or None when one differs from the main store's."""
        columns: dict[tuple[str, str, str], list[str]] = {}
        for db, schema, table, column in con.execute(_queries.TABLE_COLUMNS_SQL).fetchall():
            key = ("shard" if db == "shard" else "main", schema, table)
            columns.setdefault(key, []).append(column)
        shard_tables = {(s, t): c for (d, s, t), c in columns.items() if d == "shard"}
        if any(
            schema != "main" or columns.get(("main", schema, table)) != cols
            for (schema, table), cols in shard_tables.items()
        ):
            return None
        return {table: cols for (_schema, table), cols in shard_tables.items()}
