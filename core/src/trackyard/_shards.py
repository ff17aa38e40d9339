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
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trackyard import _queries, _session
from trackyard._layout import DONE_SUFFIX, DRIVER_FILE, SHARDS_DIR, TEMPLATE_DB, WAL_SUFFIX
from trackyard._model import in_parallel_worker, resolve_callable
from trackyard._outcome import Runner, RunOutcome
from trackyard._store import Store, pid_alive, schema_marker
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
    executor: str = "processes"  # or "dask": where the run happens, beside the sweep's others


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
        "strict_inputs": settings.strict_inputs,
        "on_environment_change": settings.on_environment_change,
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
    """Run one config in a worker (module-level, so processes and Dask can pickle it).

    A task whose sweep has ended (its driver died, or its folder is gone) is not run: a Dask
    worker may still hold queued tasks of a client that disappeared. The shard is marked done
    (``<shard>.done``) once the run has ended and the tracker let go of it, so recovery can
    merge it while the worker process (a Dask worker lives on) is still alive.
    """
    ended = sweep_ended(Path(task.sweep_dir))
    if ended is not None:
        return Done(task.name, "", None, f"not run: {ended}")
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
        with _session.batch(tracker.consist), in_parallel_worker(task.executor):
            # The task's shard is this worker's alone; other runs of the sweep run beside it.
            outcome = tracker.run(fn, name=task.name, config=task.config, inputs=task.inputs)
    except Exception as exc:
        return Done(task.name, str(shard), None, f"{type(exc).__name__}: {exc}")
    finally:
        done_marker(shard).touch()
    return Done(task.name, str(shard), dataclasses.replace(outcome, result=None), None)


def done_marker(shard: Path) -> Path:
    """The file beside a shard that says its task has ended (nobody writes to it again)."""
    return Path(f"{shard}{DONE_SUFFIX}")


def sweep_ended(sweep: Path) -> str | None:
    """Why a task of ``sweep`` must not start, or None: its folder or driver file is gone (the
    sweep ended, or was recovered), or its driver, on this host, is no longer alive."""
    try:
        host, pid = (sweep / DRIVER_FILE).read_text(encoding="utf-8").split()
    except (OSError, ValueError):
        return f"its sweep {sweep.name} has ended (no driver file)"
    if host == socket.gethostname() and not pid_alive(int(pid)):
        return f"the driver of sweep {sweep.name} (pid {pid}) is gone"
    return None


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
        with tempfile.TemporaryDirectory(dir=folder) as empty:
            options = {**task.options, "run_dir": Path(empty)}
            build_tracker(task.domain, db_path=template, **options)
    return template


def start_worker(driver_pid: int, environ: Mapping[str, str]) -> None:
    """A pool worker's initializer: take the driver's environment as it was when the sweep
    started (the fork server froze the one it had when it started, maybe sweeps ago, while
    ``fork`` and ``spawn`` would pass the current one), then watch the driver."""
    os.environ.clear()
    os.environ.update(environ)
    watch_driver(driver_pid)


def watch_driver(driver_pid: int, interval: float = 0.5) -> None:
    """Make this worker process exit when the driver ``driver_pid`` dies, by any signal
    (``kill -9`` included): the kernel kills it when its parent (the fork server, which exits
    with the driver) dies (``PR_SET_PDEATHSIG`` on Linux), and a daemon thread checks the
    driver's pid every ``interval`` seconds everywhere."""
    _parent_death_signal()
    if not pid_alive(driver_pid):
        os._exit(1)

    def watch() -> None:
        while pid_alive(driver_pid):
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="trackyard-driver-watch", daemon=True).start()


def _parent_death_signal() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)


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
    with tempfile.TemporaryDirectory(dir=template.parent) as empty:
        # An empty run folder of its own: a new store beside recorded snapshots is refused.
        options = {**worker_options(dt), "run_dir": Path(empty)}
        build_tracker(dt.domain_name, db_path=temporary, **options)  # initialises it
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


def has_sweeps(workspace: Path) -> bool:
    """Whether ``workspace`` has a shards folder (a sweep ran, or runs, there)."""
    return (workspace / SHARDS_DIR).is_dir()


def remove_shard(shard: Path) -> None:
    for path in (shard, schema_marker(shard), Path(f"{shard}{WAL_SUFFIX}"), done_marker(shard)):
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


def _worker_alive(worker: Path) -> bool:
    """Whether the worker of folder ``<host>-<pid>-<thread>`` still runs (this host only;
    another host's worker, or a name not in that form, counts as alive: never touched)."""
    host, _, rest = worker.name.rpartition("-")[0].rpartition("-")
    pid = rest
    if not host or not pid.isdigit():
        return True
    if host != socket.gethostname():
        return True
    return pid_alive(int(pid))


def recover(workspace: Path, merger: Merger) -> list[tuple[Path, str]]:
    """Merge the shards of killed sweeps into the main store; remove a sweep once all its
    shards are merged. A worker still alive (a Dask worker outlives its client) keeps the
    shards it may still be writing: only those marked done are merged. Returns the shards that
    could not be merged (kept where they are), and why."""
    kept: list[tuple[Path, str]] = []
    for sweep in _stale_sweeps(workspace / SHARDS_DIR):
        done = True
        for worker in sorted(p for p in sweep.iterdir() if p.is_dir()):
            alive = _worker_alive(worker)
            for shard in sorted(worker.glob("*.duckdb")):
                if shard.name == TEMPLATE_DB:
                    continue
                if alive and not done_marker(shard).exists():
                    done = False  # its task may still be running: left alone
                    continue
                _close_interrupted(shard)
                if merger.merge(shard):
                    remove_shard(shard)
                else:
                    kept.append((shard, str(merger.last_error)))
                    done = False
        if done:
            shutil.rmtree(sweep, ignore_errors=True)
    return kept


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
    merge. Every access goes through the store layer (``_store.Store``): lock conflicts on the
    main store are waited for within ``TRACKYARD_LOCK_TIMEOUT``; ``last_error`` says why the
    latest merge failed.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._maintenance: Any = None
        self.last_error: str | None = None

    def merge(self, shard: Path, attempts: int = 3) -> bool:
        """Merge ``shard``; True when done. Runs already in the main store are skipped.

        Each attempt waits out lock conflicts within the lock budget; a failed attempt is
        retried ``attempts`` times. False (with ``last_error`` set) when it still failed: the
        shard must then be kept, it holds rows the store lacks.
        """
        if not shard.is_file():
            return True
        for attempt in range(attempts):
            try:
                if not self._store.write(
                    lambda con: self._merge_sql(con, shard), what=f"merging shard {shard.name}"
                ):
                    self._store.retry(
                        lambda: self._consist_merge(shard), what=f"merging shard {shard.name}"
                    )
                self.last_error = None
                return True
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                time.sleep(0.2 * (attempt + 1))
        return False

    def _consist_merge(self, shard: Path) -> None:
        if self._maintenance is None:
            from consist.core.maintenance import DatabaseMaintenance  # heavy; only when needed

            self._maintenance = DatabaseMaintenance(
                db=_merge_db(self._store.db_path), run_dir=self._store.run_dir
            )
        self._maintenance.merge(shard, conflict="skip", include_snapshots=False)

    def _merge_sql(self, con: Any, shard: Path) -> bool:
        """The one-connection merge; False (nothing written) when the shard needs consist's."""
        import duckdb  # heavy; only when merging

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
