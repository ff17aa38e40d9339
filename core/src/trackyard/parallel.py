"""Running many configs of one model: serially, in local processes, or on a Dask cluster.

The driver (the process that called ``DomainTracker.run_many``) does all the bookkeeping:

1. it merges shards left behind by a killed sweep into the main store;
2. it checks the cache for EVERY config in one query (no consist run per cached config), so
   finished configs never leave the driver;
3. it dispatches the rest. Each worker (process, or thread of a Dask worker) builds its own
   tracker with ``trackyard.get_tracker(domain, ...)`` on its own shard DuckDB file
   ``<workspace>/shards/<sweep>/<worker>/<run name>-<id>.duckdb`` (one per task, copied from a
   template the worker initialised once); output files go to the main
   ``runs/`` folder (per-run subfolders), because consist records output URIs relative to the
   run folder and resolves them against the reader's run folder;
4. it merges each worker's shard into the main store as results arrive, so queries see results
   while the sweep runs and a killed sweep loses nothing that finished.

Workers check that their plugin set has the driver's fingerprint and fail the task otherwise.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trackyard._validate import check_config, check_run_name, decode_metric
from trackyard.errors import ConfigValidationError, TrackyardError
from trackyard.registry import default_registry
from trackyard.tracker import RunOutcome, _code_identity, _wrap_model, model_identity

if TYPE_CHECKING:
    from trackyard.tracker import DomainTracker

__all__ = ["ManyResult", "PluginSetMismatchError", "run_many"]

SHARDS = "shards"
SHARED_TEMPLATE = "template.duckdb"
_DRIVER_FILE = "driver.pid"
Item = tuple[str, Mapping[str, Any]] | tuple[str, Mapping[str, Any], Mapping[str, Any] | None]


class PluginSetMismatchError(TrackyardError):
    """A worker's installed plugin set differs from the driver's."""


@dataclass
class ManyResult:
    """What a batch of runs produced: an outcome per finished name, an error per failed name."""

    outcomes: dict[str, RunOutcome] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    ran: int = 0
    cached: int = 0

    @property
    def failed(self) -> int:
        return len(self.failures)

    def summary(self) -> str:
        """One line: how many configs ran, came from cache, failed (and which)."""
        total = self.ran + self.cached + self.failed
        text = f"{total} configs: {self.ran} ran, {self.cached} cached, {self.failed} failed"
        if self.failures:
            text += " (" + ", ".join(sorted(self.failures)) + ")"
        return text


# --- plugin set ---------------------------------------------------------------------------------


# --- model reference ----------------------------------------------------------------------------


def _function_reference(fn: Callable[..., Any]) -> tuple[str, str]:
    """``(module, qualname)`` of a module-level function that workers can import."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    label = getattr(fn, "__qualname__", repr(fn))
    fix = "define the model as a top-level function in an importable module (package.module:fn)"
    if not module or not qualname or "<" in qualname or module == "__main__":
        raise ConfigValidationError(
            f"model {label!r} (module {module!r}) cannot be sent to worker processes; {fix}"
        )
    try:
        target: Any = importlib.import_module(module)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigValidationError(
            f"model {module}:{qualname} is not importable by reference ({exc}); {fix}"
        ) from exc
    if target is not fn:
        raise ConfigValidationError(
            f"{module}:{qualname} does not refer to the model passed in; {fix}"
        )
    return module, qualname


def _resolve_reference(module: str, qualname: str) -> Callable[..., Any]:
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target  # type: ignore[no-any-return]


# --- items --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    name: str
    config: dict[str, Any]
    inputs: dict[str, Any] | None


def _check_items(items: Sequence[Any]) -> list[_Item]:
    out: list[_Item] = []
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise ConfigValidationError(
                f"each item must be (run name, config) or (run name, config, inputs), got {item!r}"
            )
        name = check_run_name(item[0])
        if name in seen:
            raise ConfigValidationError(f"run name {name!r} appears twice; names must be unique")
        seen.add(name)
        inputs = dict(item[2]) if len(item) == 3 and item[2] else None
        out.append(_Item(name, check_config(item[1]), inputs))
    return out


# --- the cache pre-check ------------------------------------------------------------------------


def _cache_keys(dt: DomainTracker, fn: Callable[..., Any], items: list[_Item]) -> dict[str, str]:
    """Each input-free item's consist config hash, computed exactly as ``Tracker.run`` does.

    Items with ``inputs`` are left out: their input hash needs consist's artifact lookups, so
    they always go through a real ``run`` (which checks the cache itself).
    """
    identity = dt.consist.identity
    wired = dt.wiring
    identity_inputs: list[Any] = [*wired.identity_inputs, *model_identity(fn)]
    digests = identity.compute_hash_inputs_digests(identity_inputs) if identity_inputs else None
    epoch = wired.cache_epoch or dt.settings.cache_epoch
    keys: dict[str, str] = {}
    for item in items:
        if item.inputs:
            continue
        config: dict[str, Any] = dict(item.config)
        if digests:
            config["__consist_hash_inputs__"] = digests
        keys[item.name] = identity.compute_run_config_hash(
            config=identity.normalize_json(config),
            model=wired.model if wired.model is not None else item.name,
            year=None,
            iteration=None,
            cache_epoch=epoch,
            cache_version=None,
        )
    return keys


_LOOKUP_SQL = """
SELECT id, config_hash, status, meta FROM run
WHERE status = 'completed' AND git_hash = :git AND input_hash = :inputs
  AND config_hash IN :hashes
  AND json_extract(meta, '$.cache_source') IS NULL
ORDER BY created_at DESC
"""

_OUTPUTS_SQL = """
SELECT l.run_id, a.key, a.container_uri FROM run_artifact_link l
JOIN artifact a ON a.id = l.artifact_id
WHERE l.direction = 'output' AND l.run_id IN :ids
"""


def _precheck(
    dt: DomainTracker, fn: Callable[..., Any], items: list[_Item]
) -> dict[str, RunOutcome]:
    """Outcomes of the items whose config already ran: one query for the whole batch."""
    keys = _cache_keys(dt, fn, items)
    if not keys:
        return {}
    from sqlalchemy import bindparam, text

    identity = dt.consist.identity
    wired = dt.wiring
    # The mode DomainTracker.run chooses (a model without a source file falls back to its source).
    code = identity.resolve_code_identity(
        mode=_code_identity(fn, wired.code_identity), func=_wrap_model(fn)
    ).digest
    no_inputs = identity.compute_input_hash([])
    query = text(_LOOKUP_SQL).bindparams(
        bindparam("hashes", expanding=True),
        git=code,
        inputs=no_inputs,
        hashes=sorted(set(keys.values())),
    )
    found: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for run_id, config_hash, _status, meta in dt.consist.run_query(query):
        if config_hash not in found:
            found[config_hash] = (str(run_id), _as_mapping(meta))
    if not found:
        return {}
    ids = sorted({run_id for run_id, _ in found.values()})
    outputs: dict[str, dict[str, Path]] = {}
    out_query = text(_OUTPUTS_SQL).bindparams(bindparam("ids", expanding=True), ids=ids)
    for run_id, key, uri in dt.consist.run_query(out_query):
        outputs.setdefault(str(run_id), {})[str(key)] = Path(dt.consist.resolve_uri(uri))
    hits: dict[str, RunOutcome] = {}
    for item in items:
        match = found.get(keys.get(item.name, ""))
        if match is None:
            continue
        run_id, meta = match
        hits[item.name] = RunOutcome(
            run_id=run_id,
            name=item.name,
            status="completed",
            cache_hit=True,
            cache_source=run_id,
            metrics={k: decode_metric(v) for k, v in (meta.get("metrics") or {}).items()},
            outputs=outputs.get(run_id, {}),
            config=item.config,
        )
    return hits


def _as_mapping(meta: Any) -> Mapping[str, Any]:
    if isinstance(meta, Mapping):
        return meta
    if isinstance(meta, str):
        import json

        loaded = json.loads(meta)
        return loaded if isinstance(loaded, Mapping) else {}
    return {}


# --- shards and merging -------------------------------------------------------------------------


def _merge_db(path: Path) -> Any:
    """A consist ``DatabaseManager`` that opens shards without re-running schema set-up.

    ``DatabaseMaintenance.merge`` (what ``consist db merge`` calls) opens the shard with the
    class of the main DB; schema set-up costs ~0.45 s per open and the shard is already set up.
    """
    from consist.core.persistence import DatabaseManager

    class _NoSetup(DatabaseManager):
        def __init__(self, db_path: str, **kwargs: Any) -> None:
            kwargs.setdefault("skip_schema_init", True)
            super().__init__(db_path, **kwargs)

    return _NoSetup(str(path))


class _Merger:
    """Merges shard DBs into the main store, skipping rows it already holds.

    Equivalent to ``consist db merge SHARD --conflict skip`` for our shards, which are copies
    of a template made by the same consist (so every table has the main store's columns and
    primary keys) and hold no ingested ``global_tables``: one DuckDB connection that ATTACHes
    the shard and runs ``INSERT OR IGNORE`` per table in one transaction (~30 ms, against
    ~200 ms for consist's merge, which opens ~30 connections; on 2 cores the driver's merges
    compete with the workers for CPU). A shard with anything else goes through consist's
    merge.
    """

    def __init__(self, dt: DomainTracker) -> None:
        from consist.core.maintenance import DatabaseMaintenance

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
        import duckdb

        literal = "'" + str(shard).replace("'", "''") + "'"
        with duckdb.connect(str(self._main)) as con:
            con.execute(f"ATTACH {literal} AS shard (READ_ONLY)")
            try:
                columns: dict[tuple[str, str, str], list[str]] = {}
                for db, schema, table, column in con.execute(
                    "SELECT database_name, schema_name, table_name, column_name "
                    "FROM duckdb_columns() WHERE database_name IN ('shard', current_database()) "
                    "AND (database_name, schema_name, table_name) IN "
                    "(SELECT (database_name, schema_name, table_name) FROM duckdb_tables()) "
                    "ORDER BY column_index"
                ).fetchall():
                    key = ("shard" if db == "shard" else "main", schema, table)
                    columns.setdefault(key, []).append(column)
                shard_tables = {(s, t): c for (d, s, t), c in columns.items() if d == "shard"}
                if any(
                    schema != "main" or columns.get(("main", schema, table)) != cols
                    for (schema, table), cols in shard_tables.items()
                ):
                    return False
                con.execute("BEGIN TRANSACTION")
                for (_schema, table), cols in sorted(shard_tables.items()):
                    names = ", ".join('"' + c.replace('"', '""') + '"' for c in cols)
                    quoted = '"' + table.replace('"', '""') + '"'
                    con.execute(
                        f"INSERT OR IGNORE INTO main.{quoted} ({names}) "
                        f"SELECT {names} FROM shard.main.{quoted}"
                    )
                con.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                raise
        return True


def _remove_shard(shard: Path) -> None:
    from trackyard._store import SCHEMA_MARKER_SUFFIX

    for path in (shard, Path(f"{shard}{SCHEMA_MARKER_SUFFIX}"), Path(f"{shard}.wal")):
        path.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale_sweeps(shards_root: Path) -> Iterator[Path]:
    """Sweep folders whose driver process is gone (a killed or crashed sweep)."""
    if not shards_root.is_dir():
        return
    host = socket.gethostname()
    for sweep in sorted(p for p in shards_root.iterdir() if p.is_dir()):
        marker = sweep / _DRIVER_FILE
        try:
            owner_host, pid = marker.read_text(encoding="utf-8").split()
        except (OSError, ValueError):
            yield sweep
            continue
        if owner_host == host and not _pid_alive(int(pid)):
            yield sweep


def _close_interrupted(shard: Path) -> None:
    """Mark runs a killed worker left ``running`` as failed, so they merge as failures."""
    import duckdb

    with contextlib.suppress(duckdb.Error), duckdb.connect(str(shard)) as con:
        con.execute("UPDATE run SET status = 'failed' WHERE status = 'running'")


def _recover(dt: DomainTracker, merger: _Merger) -> None:
    """Merge every shard of a killed sweep into the main store, then remove it."""
    import shutil

    for sweep in _stale_sweeps(dt.workspace / SHARDS):
        ok = True
        for shard in sorted(sweep.glob("*/*.duckdb")):
            if shard.name == "template.duckdb":
                continue
            _close_interrupted(shard)
            ok = merger.merge(shard) and ok
        if ok:
            shutil.rmtree(sweep, ignore_errors=True)


# --- the worker side ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Task:
    domain: str
    options: Mapping[str, Any]
    fn: tuple[str, str]
    name: str
    config: Mapping[str, Any]
    inputs: Mapping[str, Any] | None
    fingerprint: str
    sweep_dir: str


@dataclass(frozen=True)
class _Done:
    name: str
    shard: str
    outcome: RunOutcome | None
    error: str | None


def _template_is_current(template: Path) -> bool:
    """A template store (and its schema marker) made by this consist version exists."""
    import consist

    from trackyard._store import SCHEMA_MARKER_SUFFIX

    marker = Path(f"{template}{SCHEMA_MARKER_SUFFIX}")
    try:
        return template.is_file() and marker.read_text(encoding="utf-8").strip() == str(
            consist.__version__
        )
    except OSError:
        return False


def _shared_template(dt: DomainTracker) -> None:
    """Make ``<workspace>/shards/template.duckdb``, an empty initialised store workers copy.

    Built once per workspace (and consist version) by the driver, so no worker pays consist's
    schema set-up (~0.5 s); written under a temporary name and renamed, so a worker never
    copies a half-made one (a worker that finds none makes its own).
    """
    import trackyard
    from trackyard._store import SCHEMA_MARKER_SUFFIX

    template = dt.workspace / SHARDS / SHARED_TEMPLATE
    if _template_is_current(template):
        return
    template.parent.mkdir(parents=True, exist_ok=True)
    temporary = template.with_name(f".{uuid.uuid4().hex[:8]}-{SHARED_TEMPLATE}")
    with trackyard.get_tracker(dt.domain_name, db_path=temporary, **_worker_options(dt)):
        pass
    Path(f"{temporary}.wal").unlink(missing_ok=True)
    os.replace(temporary, template)
    os.replace(f"{temporary}{SCHEMA_MARKER_SUFFIX}", f"{template}{SCHEMA_MARKER_SUFFIX}")


def _worker_folder(task: _Task) -> tuple[Path, Path]:
    """This worker's folder in the sweep and the template shard to copy for each task."""
    worker = f"{socket.gethostname()}-{os.getpid()}-{threading.get_ident()}"
    folder = Path(task.sweep_dir) / worker
    folder.mkdir(parents=True, exist_ok=True)
    shared = Path(task.sweep_dir).parent / SHARED_TEMPLATE
    if _template_is_current(shared):
        return folder, shared
    template = folder / "template.duckdb"
    if not template.is_file():
        import trackyard

        trackyard.get_tracker(task.domain, db_path=template, **task.options)
    return folder, template


def _task_tracker(task: _Task) -> tuple[DomainTracker, Path]:
    """A tracker on a fresh shard for this one task (a copy of the worker's template).

    One shard per task: once the task is done nobody writes to it again, so the driver can
    merge it without lock contention and without ever copying a half-finished run.
    """
    import shutil

    import trackyard
    from trackyard._store import SCHEMA_MARKER_SUFFIX

    folder, template = _worker_folder(task)
    shard = folder / f"{task.name}-{uuid.uuid4().hex[:8]}.duckdb"
    shutil.copyfile(template, shard)
    shutil.copyfile(f"{template}{SCHEMA_MARKER_SUFFIX}", f"{shard}{SCHEMA_MARKER_SUFFIX}")
    return trackyard.get_tracker(task.domain, db_path=shard, **task.options), shard


def _execute(task: _Task) -> _Done:
    """Run one config in a worker (module-level, so processes and Dask can pickle it)."""
    found = default_registry().plugin_set_fingerprint()
    if found != task.fingerprint:
        raise PluginSetMismatchError(
            f"worker {socket.gethostname()} (pid {os.getpid()}) has a different trackyard "
            f"plugin set than the driver (fingerprint {found[:12]} != {task.fingerprint[:12]}); "
            "install the same plugin distributions and versions on every worker"
        )
    tracker, shard = _task_tracker(task)
    fn = _resolve_reference(*task.fn)
    try:
        outcome = tracker.run(fn, name=task.name, config=task.config, inputs=task.inputs)
    except Exception as exc:
        return _Done(task.name, str(shard), None, f"{type(exc).__name__}: {exc}")
    return _Done(task.name, str(shard), dataclasses.replace(outcome, result=None), None)


# --- progress -----------------------------------------------------------------------------------


class _Progress:
    """A rich progress bar with cached / running / done / failed counts, on terminals only."""

    def __init__(self, total: int, enabled: bool | None) -> None:
        self.total = total
        self.cached = self.running = self.done = self.failed = 0
        show = sys.stderr.isatty() if enabled is None else enabled
        self._bar: Any = None
        if show and total:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            # On stderr, the stream whose terminal-ness decides whether the bar is shown.
            self._bar = Progress(
                TextColumn("[bold]sweep"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._bar.add_task(self._text(), total=total)
            self._bar.start()

    def _text(self) -> str:
        return (
            f"cached {self.cached} · running {self.running} · "
            f"done {self.done} · failed {self.failed}"
        )

    def update(self, **counts: int) -> None:
        for key, value in counts.items():
            setattr(self, key, value)
        if self._bar is not None:
            self._bar.update(
                self._task,
                completed=self.cached + self.done + self.failed,
                description=self._text(),
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


# --- the driver ---------------------------------------------------------------------------------


def _is_dask_client(executor: object) -> bool:
    return type(executor).__module__.split(".")[0] == "distributed" and hasattr(executor, "submit")


def _worker_options(dt: DomainTracker) -> dict[str, Any]:
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


def run_many(
    dt: DomainTracker,
    fn: Callable[..., Any],
    items: Sequence[Any],
    *,
    executor: Any = "serial",
    max_workers: int | None = None,
    progress: bool | None = None,
) -> ManyResult:
    """Run ``fn`` once per item; see ``DomainTracker.run_many``."""
    checked = _check_items(items)
    dask = _is_dask_client(executor)
    if not dask and executor not in ("serial", "processes"):
        raise ConfigValidationError(
            f"executor must be 'serial', 'processes' or a dask.distributed Client, got {executor!r}"
        )
    if max_workers is not None and (
        isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1
    ):
        raise ConfigValidationError(f"max_workers must be a positive integer, got {max_workers!r}")
    reference = _function_reference(fn) if executor != "serial" else None

    result = ManyResult()
    merger = _Merger(dt) if executor != "serial" or (dt.workspace / SHARDS).is_dir() else None
    if merger is not None:
        _recover(dt, merger)
    hits = _precheck(dt, fn, checked)
    result.outcomes.update(hits)
    result.cached = len(hits)
    todo = [item for item in checked if item.name not in hits]
    bar = _Progress(len(checked), progress)
    bar.update(cached=result.cached)
    try:
        if executor == "serial":
            _serial(dt, fn, todo, result, bar)
        else:
            assert reference is not None and merger is not None
            _parallel(dt, reference, todo, result, bar, merger, executor, max_workers, dask)
    finally:
        bar.close()
    # Keep the caller's order.
    result.outcomes = {
        i.name: result.outcomes[i.name] for i in checked if i.name in result.outcomes
    }
    return result


def _serial(
    dt: DomainTracker, fn: Callable[..., Any], todo: list[_Item], result: ManyResult, bar: _Progress
) -> None:
    for item in todo:
        bar.update(running=1)
        try:
            outcome = dt.run(fn, name=item.name, config=item.config, inputs=item.inputs)
        except Exception as exc:
            result.failures[item.name] = f"{type(exc).__name__}: {exc}"
        else:
            result.outcomes[item.name] = outcome
            if outcome.cache_hit:
                result.cached += 1
            else:
                result.ran += 1
        bar.update(running=0, done=result.ran, cached=result.cached, failed=result.failed)


def _parallel(
    dt: DomainTracker,
    reference: tuple[str, str],
    todo: list[_Item],
    result: ManyResult,
    bar: _Progress,
    merger: _Merger,
    executor: Any,
    max_workers: int | None,
    dask: bool,
) -> None:
    # Two items with one config: dispatch the first; the others are cache hits afterwards.
    keys = _cache_keys(dt, _resolve_reference(*reference), todo)
    first: dict[str, str] = {}
    dispatch: list[_Item] = []
    later: list[_Item] = []
    for item in todo:
        key = keys.get(item.name)
        if key is not None and key in first:
            later.append(item)
        else:
            if key is not None:
                first[key] = item.name
            dispatch.append(item)

    sweep_dir = dt.workspace / SHARDS / f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    sweep_dir.mkdir(parents=True, exist_ok=True)
    (sweep_dir / _DRIVER_FILE).write_text(f"{socket.gethostname()} {os.getpid()}\n")
    fingerprint = default_registry().plugin_set_fingerprint()
    options = _worker_options(dt)
    tasks = {
        item.name: _Task(
            domain=dt.domain_name,
            options=options,
            fn=reference,
            name=item.name,
            config=item.config,
            inputs=item.inputs,
            fingerprint=fingerprint,
            sweep_dir=str(sweep_dir),
        )
        for item in dispatch
    }
    shards: set[str] = set()
    pending = set(tasks)

    def take(name: str, done: _Done | None, error: BaseException | None) -> None:
        pending.discard(name)
        if done is not None:
            if merger.merge(Path(done.shard)):
                _remove_shard(Path(done.shard))
            else:
                shards.add(done.shard)
        if done is not None and done.outcome is not None:
            result.outcomes[name] = done.outcome
            if done.outcome.cache_hit:
                result.cached += 1
            else:
                result.ran += 1
        else:
            message = done.error if done is not None else f"{type(error).__name__}: {error}"
            result.failures[name] = str(message)
        bar.update(
            running=min(len(pending), slots),
            done=result.ran,
            failed=result.failed,
        )

    if dask:
        from distributed import as_completed

        _shared_template(dt)
        slots = max(1, len(executor.scheduler_info().get("workers", {})))
        futures = {executor.submit(_execute, t, pure=False): n for n, t in tasks.items()}
        bar.update(running=min(len(pending), slots))
        for future in as_completed(list(futures)):  # type: ignore[no-untyped-call]
            name = futures[future]
            try:
                take(name, future.result(), None)
            except Exception as exc:
                take(name, None, exc)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures import as_completed as cf_completed

        slots = max_workers or os.cpu_count() or 1
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["trackyard", "consist"])
        # The fork server imports its preload in the background (~1 s) while the driver
        # makes the template shard (~0.5 s, once per workspace).
        from multiprocessing import forkserver

        forkserver.ensure_running()
        _shared_template(dt)
        with ProcessPoolExecutor(max_workers=slots, mp_context=context) as pool:
            futures_cf = {pool.submit(_execute, t): n for n, t in tasks.items()}
            bar.update(running=min(len(pending), slots))
            for future_cf in cf_completed(futures_cf):
                name = futures_cf[future_cf]
                try:
                    take(name, future_cf.result(), None)
                except Exception as exc:
                    take(name, None, exc)

    merged_all = all(merger.merge(Path(shard)) for shard in sorted(shards))
    if merged_all:
        import shutil

        shutil.rmtree(sweep_dir, ignore_errors=True)
    for item in later:
        try:
            outcome = dt.run(_resolve_reference(*reference), name=item.name, config=item.config)
        except Exception as exc:
            result.failures[item.name] = f"{type(exc).__name__}: {exc}"
        else:
            result.outcomes[item.name] = outcome
            result.cached += 1
        bar.update(cached=result.cached, failed=result.failed)
