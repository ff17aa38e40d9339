"""``run_many``: one model over many configs, serially, in local processes, or on Dask.

The driver (the process that called ``DomainTracker.run_many``) does all the bookkeeping:

1. it checks every item and the executor before anything runs;
2. it merges shards left behind by a killed sweep into the main store (``_shards.recover``);
3. it finds EVERY already-recorded config with one cache query (``_precheck``), so finished
   configs never leave the driver;
4. it hands the rest to ONE collect loop, fed by a submitter: the serial one runs each item
   here with ``DomainTracker.run``; the pool one (processes or Dask) runs them in workers on
   shards (``_shards``) and merges each shard as its result arrives. Items repeating an
   earlier item's config run afterwards, serially, as cache hits.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from trackyard import _inflight, _inputs, _metrics_index, _remote, _shards
from trackyard._consist.merge import Merger
from trackyard._consist.session import batch, known_misses
from trackyard._model import function_reference
from trackyard._outcome import Runner, RunOutcome
from trackyard._outcomes import Outcomes
from trackyard._precheck import cache_keys, precheck
from trackyard._provenance import plain_config
from trackyard._store import Store, check_writable, recovery_hint
from trackyard._validate import check_config, check_inputs_exist, check_run_name, worker_count
from trackyard.errors import ConfigValidationError, ExecutorError

__all__ = ["ManyResult", "ProgressBar", "kept_workers", "run_many"]


@dataclass
class ManyResult:
    """What a batch of runs produced: an outcome per finished name, an error per failed name.

    ``outcomes`` is a mapping that keeps each outcome as one compact record and builds its
    [`RunOutcome`][trackyard.RunOutcome] when read, so a sweep of many configs holds little
    per config.
    """

    outcomes: MutableMapping[str, RunOutcome] = field(default_factory=Outcomes)
    failures: dict[str, str] = field(default_factory=dict)
    ran: int = 0
    cached: int = 0

    @property
    def failed(self) -> int:
        """How many items failed (the size of ``failures``)."""
        return len(self.failures)

    def summary(self) -> str:
        """One line: how many configs ran, came from cache, failed (and which)."""
        total = self.ran + self.cached + self.failed
        text = f"{total} configs: {self.ran} ran, {self.cached} cached, {self.failed} failed"
        if self.failures:
            text += " (" + ", ".join(sorted(self.failures)) + ")"
        return text


class ProgressBar:
    """A rich bar with cached / running / done / failed counts, drawn on stderr.

    ``progress``: ``True`` draws it, ``False`` does not, ``None`` draws it only when stderr is a
    terminal. Pass one bar as ``run_many(..., progress=bar)`` to several batches to count them
    all on one bar (the caller closes it; use it as a context manager).

    From the first ``run_many`` counting on it until it closes, the bar also keeps the
    workspace's record of the sweep in flight (``<workspace>/inflight/``, read by
    ``trackyard serve``): one record per bar, its total the bar's ``total``.
    """

    def __init__(self, total: int, progress: bool | None = None, label: str = "sweep") -> None:
        self.counts = {"cached": 0, "running": 0, "done": 0, "failed": 0}
        self.total, self.label = total, label
        self._record: _inflight.Recorder | None = None  # the sweep's record (``_track``)
        self._closed = False
        self.shown = bool(sys.stderr.isatty() if progress is None else progress)
        self._bar: Any = None
        if self.shown and total:
            from rich.console import Console  # heavy (~0.1 s): only when a bar is drawn
            from rich.markup import escape
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            # On stderr, the stream whose terminal-ness decides whether the bar is shown.
            self._bar = Progress(
                TextColumn(f"[bold]{escape(label)}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._bar.add_task(self._text(), total=total)
            self._bar.start()

    def _text(self) -> str:
        return " · ".join(f"{key} {value}" for key, value in self.counts.items())

    def count(self, *, running: int | None = None, **finished: int) -> None:
        """Add ``cached`` / ``done`` / ``failed`` finished runs; set how many are ``running``."""
        for key, value in finished.items():
            self.counts[key] += value
        if running is not None:
            self.counts["running"] = running
        if self._bar is not None:
            c = self.counts
            completed = c["cached"] + c["done"] + c["failed"]
            self._bar.update(self._task, completed=completed, description=self._text())
        if self._record is not None:
            c = self.counts
            done = c["done"] + c["cached"]  # the record's done: every config finished well
            self._record.update({**c, "done": done})

    def _track(self, runner: Runner, fn: Callable[..., Any], executor: Any) -> None:
        """Keep the workspace's record of this sweep in flight (``_inflight``) from now until
        the bar closes: one record per bar, however many ``run_many`` calls count on it."""
        if self._record is not None or self._closed:
            return
        self._record = _inflight.Recorder.start(
            runner.workspace,
            domain=runner.domain_name,
            label=self.label,
            model=f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', '?')}",
            executor=executor if isinstance(executor, str) else "dask",
            total=self.total,
        )
        self.count()

    def close(self) -> None:
        self._closed = True
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        if self._record is not None:
            self._record.close()
            self._record = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# --- the driver ---------------------------------------------------------------------------------


def run_many(
    runner: Runner,
    fn: Callable[..., Any],
    items: Sequence[Any],
    *,
    executor: Any = "serial",
    max_workers: int | None = None,
    progress: bool | ProgressBar | None = None,
) -> ManyResult:
    """Run ``fn`` once per item; see ``DomainTracker.run_many``."""
    checked = check_items(items)
    submit = _submitter(runner, fn, executor, max_workers)
    check_writable(runner.settings)  # a read-only store: said before anything is written
    # The bar, and with it the sweep's record in the workspace, from before the recovery and
    # the cache pre-check (both can take a while) until the batch ends, however it ends.
    bar = progress if isinstance(progress, ProgressBar) else ProgressBar(len(checked), progress)
    try:
        bar._track(runner, fn, executor)
        result = _run_checked(runner, fn, checked, submit, bar)
    finally:
        if bar is not progress:
            bar.close()
    return _in_order(result, checked)


def _run_checked(
    runner: Runner,
    fn: Callable[..., Any],
    checked: list[Item],
    submit: _Serial | _Pool,
    bar: ProgressBar,
) -> ManyResult:
    """Recover old shards, find the recorded configs, run the rest; counted on ``bar``."""
    serial = isinstance(submit, _Serial)
    _recover(runner, parallel=not serial)
    # A serial batch keeps one store connection for the whole batch (released at its end); a
    # parallel one does not (the driver merges shards into the store on its own connection).
    with batch(runner.consist) if serial else contextlib.nullcontext():
        keys = cache_keys(runner, fn, checked)
        unrecorded: set[str] = set()
        hits = precheck(runner, fn, checked, keys, unrecorded if serial else None)
        first, repeats = _dedupe([i for i in checked if i.name not in hits], keys)
        # A serial batch's configs that the store has never recorded skip consist's own cache
        # lookup (two scans of the run table per run); their repeats, run last, are hits.
        new = {i.name for i in first if keys.get(i.name) in unrecorded} if serial else set()
        del keys, unrecorded  # a key per config: not held while the batch runs
        result = ManyResult(outcomes=hits, cached=len(hits))
        bar.count(cached=len(hits))
        with known_misses(runner.consist, new):
            _collect(submit(first), result, bar, len(first), submit.slots)
        _collect(_Serial(runner, fn)(repeats), result, bar, len(repeats), 1)
    return result


@dataclass(frozen=True, slots=True)
class Item:
    name: str
    config: dict[str, Any]
    inputs: dict[str, Any] | None


def check_items(items: Sequence[Any]) -> list[Item]:
    """Every item is ``(run name, config[, inputs])`` with a valid, unique name and config."""
    out: list[Item] = []
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
        check_inputs_exist(inputs or {}, name)  # every item's files, before anything runs
        check_config(plain_config(item[1]))  # a Path is an input file: hashed, not JSON
        out.append(Item(name, dict(item[1] or {}), inputs))
    return out


def _recover(runner: Runner, *, parallel: bool) -> None:
    """Before a parallel sweep, or when shards exist: merge what a killed sweep left."""
    if parallel or _shards.has_sweeps(runner.workspace):
        _shards.recover(
            runner.workspace, Merger(Store.of(runner.settings), _metrics_index.index_merged)
        )


def _dedupe(todo: list[Item], keys: Mapping[str, str]) -> tuple[list[Item], list[Item]]:
    """Split off the items whose config an earlier item has: they run last, as cache hits."""
    first: list[Item] = []
    repeats: list[Item] = []
    seen: set[str] = set()
    for item in todo:
        key = keys.get(item.name)
        (repeats if key is not None and key in seen else first).append(item)
        if key is not None:
            seen.add(key)
    return first, repeats


@dataclass(frozen=True, slots=True)
class Finished:
    """One item's end: its outcome, or the error that stopped it."""

    name: str
    outcome: RunOutcome | None
    error: str | None


def _collect(
    finished: Iterator[Finished], result: ManyResult, bar: ProgressBar, count: int, slots: int
) -> None:
    """THE collect loop: record each finished item and update the bar as results arrive."""
    pending = count
    bar.count(running=min(pending, slots))
    for done in finished:
        pending -= 1
        if done.outcome is None:
            result.failures[done.name] = str(done.error)
            bar.count(running=min(pending, slots), failed=1)
        elif done.outcome.cache_hit:
            result.outcomes[done.name] = done.outcome
            result.cached += 1
            bar.count(running=min(pending, slots), cached=1)
        else:
            result.outcomes[done.name] = done.outcome
            result.ran += 1
            bar.count(running=min(pending, slots), done=1)


def _in_order(result: ManyResult, items: list[Item]) -> ManyResult:
    """The result with outcomes and failures in the caller's order."""
    assert isinstance(result.outcomes, Outcomes)  # run_many's own
    result.outcomes.reorder(i.name for i in items)
    result.failures = {i.name: result.failures[i.name] for i in items if i.name in result.failures}
    return result


def unmerged_message(shard: Path, runner: Runner, error: str | None) -> str:
    """Why a finished run is not reported done: it is kept only in its shard, and how to merge
    it."""
    return (
        f"finished, but kept only in its shard {shard}: merging it into {runner.settings.db_path} "
        f"failed ({error}); the shard is kept. Merge it once this sweep has ended: "
        f"{recovery_hint(runner.settings)}"
    )


# --- submitters ---------------------------------------------------------------------------------


def _submitter(
    runner: Runner, fn: Callable[..., Any], executor: Any, max_workers: int | None
) -> _Serial | _Pool:
    """The submitter for ``executor``, checked (executor, worker count, model reference)."""
    slots = worker_count(executor, max_workers)
    if executor == "serial":
        return _Serial(runner, fn)
    return _Pool(runner, function_reference(fn), executor, slots)


class _Serial:
    """Runs each item here, one after the other."""

    slots = 1

    def __init__(self, runner: Runner, fn: Callable[..., Any]) -> None:
        self._runner, self._fn = runner, fn

    def __call__(self, items: list[Item]) -> Iterator[Finished]:
        for item in items:
            try:
                outcome = self._runner.run(
                    self._fn, name=item.name, config=item.config, inputs=item.inputs
                )
            except Exception as exc:
                yield Finished(item.name, None, f"{type(exc).__name__}: {exc}")
            else:
                yield Finished(item.name, outcome, None)


def _start_forkserver() -> Any:
    """The forkserver context, its server started now: it imports its preload (~1 s) in the
    background while the driver recovers old shards, runs the cache pre-check and makes the
    template shard (~0.5 s, once per workspace), so workers start from a warm server.

    The server starts with Ctrl-C ignored (it inherits that): a Ctrl-C while it imports its
    preload would print the import's traceback; the driver handles Ctrl-C, and its workers
    take the default handler for the length of each task (``_shards.start_worker``)."""
    import multiprocessing
    import signal
    import threading
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["trackyard", "consist"])
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        forkserver.ensure_running()
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    return context


class _WorkerPools:
    """Process pools kept for the length of a ``kept_workers`` block, one per worker
    count; each is shut down (its workers exit) when the block ends."""

    def __init__(self) -> None:
        self._pools: dict[int, Any] = {}

    def get(self, slots: int, context: Any) -> Any:
        """The kept pool of ``slots`` workers, started now if there is none yet."""
        pool = self._pools.get(slots)
        if pool is None:
            pool = self._pools[slots] = _new_pool(slots, context)
        return pool

    def discard(self, slots: int) -> None:
        """Forget a pool that broke (a worker died); the next batch starts a new one."""
        pool = self._pools.pop(slots, None)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
        self._pools.clear()


_KEPT: ContextVar[_WorkerPools | None] = ContextVar("trackyard_kept_workers", default=None)


@contextlib.contextmanager
def kept_workers() -> Iterator[None]:
    """Within the block, ``processes`` batches keep their worker processes for the next batch
    with the same worker count (``DomainTracker.reuse_workers``); they exit at its end."""
    if _KEPT.get() is not None:  # an outer block keeps them already
        yield
        return
    pools = _WorkerPools()
    token = _KEPT.set(pools)
    try:
        yield
    finally:
        _KEPT.reset(token)
        pools.close()


@contextlib.contextmanager
def _main_left_alone() -> Iterator[None]:
    """Workers started in this block do not re-run ``__main__`` when it is not a file they can
    import (a script read from standard input, ``python -c``): multiprocessing would try to run
    ``<stdin>`` and every worker would die. They never need it: a task names its model by
    module (``function_reference`` refuses a model defined in such a ``__main__``)."""
    from trackyard._model import main_is_importable

    main = sys.modules.get("__main__")
    if main is None or main_is_importable() or not hasattr(main, "__file__"):
        yield
        return
    path = main.__file__
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def _new_pool(slots: int, context: Any) -> Any:
    """A process pool whose workers take the driver's environment of now and exit when the
    driver dies."""
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(
        max_workers=slots,
        mp_context=context,
        initializer=_shards.start_worker,
        initargs=(os.getpid(), dict(os.environ)),
    )


def _top_up(pool: Any, todo: Iterator[tuple[str, Any]], queued: dict[Any, str], depth: int) -> bool:
    """Submit tasks from ``todo`` until ``queued`` holds ``depth`` futures; True while any were
    left. A pool that broke (a worker died) fails each task still submitted, as it would have
    failed them all had they been queued at once."""
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    while len(queued) < depth:
        entry = next(todo, None)
        if entry is None:
            return False
        name, task = entry
        try:
            with _main_left_alone():  # workers start as tasks are submitted
                future = pool.submit(_shards.execute, task)
        except BrokenProcessPool as exc:
            future = Future()
            future.set_exception(exc)
        queued[future] = name
    return True


def _broken(future: Any) -> bool:
    from concurrent.futures.process import BrokenProcessPool

    return not future.cancelled() and isinstance(future.exception(), BrokenProcessPool)


class _Pool:
    """Runs items in worker processes or on a Dask cluster, each task on its own shard,
    merged into the main store as it finishes."""

    def __init__(self, runner: Runner, reference: str, executor: Any, slots: int) -> None:
        from trackyard._workers import WorkersRefused

        if isinstance(runner.worker_builder, WorkersRefused):
            raise ExecutorError(runner.worker_builder.reason)
        if runner.worker_builder is None:
            raise ConfigValidationError(
                f"run_many(executor={executor!r}) needs a tracker built by trackyard.get_tracker "
                "(workers build the domain's tracker again); this one was built by hand: use "
                'executor="serial"'
            )
        self._runner, self._reference, self._executor = runner, reference, executor
        self._build: Callable[..., Runner] = runner.worker_builder
        self.slots = slots
        self._merger = Merger(Store.of(runner.settings), _metrics_index.index_merged)
        self._unmerged: list[Path] = []
        self._context: Any = _start_forkserver() if executor == "processes" else None

    def __call__(self, items: list[Item]) -> Iterator[Finished]:
        if not items:
            return
        sweep = self._sweep = _shards.open_sweep(self._runner)
        tasks = self._tasks(items, sweep)
        futures = self._processes(tasks) if self._executor == "processes" else self._dask(tasks)
        try:
            for name, future in futures:
                yield self._take(name, future)
        finally:
            # A shard that holds unmerged rows is never deleted: the sweep folder stays, and
            # the next sweep or `trackyard doctor --fix` merges it once this driver has ended.
            if not self._unmerged:
                shutil.rmtree(sweep, ignore_errors=True)

    def _tasks(self, items: list[Item], sweep: Path) -> Iterator[tuple[str, _shards.Task]]:
        """Each item's task, made when it is submitted (never all of them at once)."""
        fingerprint = _shards.plugin_set_fingerprint()
        options = _shards.worker_options(self._runner)
        return (
            (
                item.name,
                _shards.Task(
                    build=self._build,
                    domain=self._runner.domain_name,
                    options=options,
                    fn=self._reference,
                    name=item.name,
                    config=item.config,
                    inputs=item.inputs,
                    fingerprint=fingerprint,
                    sweep_dir=str(sweep),
                    executor="processes" if self._executor == "processes" else "dask",
                ),
            )
            for item in items
        )

    def _take(self, name: str, future: Any) -> Finished:
        """A task's result; its shard is merged now (or retried when the sweep ends)."""
        try:
            done: _shards.Done = future.result()
        except Exception as exc:
            return Finished(name, None, f"{type(exc).__name__}: {exc}")
        if done.shipment is not None:
            return self._land(done)
        if not done.shard:  # not run (its sweep ended): nothing recorded
            return Finished(name, done.outcome, done.error)
        shard = Path(done.shard)
        if self._merger.merge(shard):
            _shards.remove_shard(shard)
            return Finished(name, done.outcome, done.error)
        # Not in the store the user queries: never reported as done.
        self._unmerged.append(shard)
        return Finished(name, None, unmerged_message(shard, self._runner, self._merger.last_error))

    def _land(self, done: _shards.Done) -> Finished:
        """A task run where the workspace is not: check its files, place them, merge it."""
        from trackyard._transfer import land

        shipment = done.shipment
        targets = (self._runner.workspace, self._runner.settings.run_dir)
        try:
            landed = land(
                done.name, shipment, done.outcome, self._sweep, targets, self._reader(done)
            )
        except Exception as exc:  # a large file could not be read back (its worker is gone)
            return Finished(done.name, None, f"{type(exc).__name__}: {exc}; nothing was kept")
        if any(blob.data is None for blob in shipment.files):  # large files wait there
            from distributed import fire_and_forget

            drop = self._on_worker(shipment.worker, _remote.drop_scratch, shipment.folder)
            fire_and_forget(drop)  # type: ignore[no-untyped-call]
        if not self._merger.merge(landed.shard):
            self._unmerged.append(landed.shard)
            error = self._merger.last_error
            return Finished(done.name, None, unmerged_message(landed.shard, self._runner, error))
        shutil.rmtree(landed.shard.parent, ignore_errors=True)
        if landed.error is not None:
            self._protect(done)
            return Finished(done.name, None, landed.error)
        return Finished(done.name, landed.outcome, done.error)

    def _protect(self, done: _shards.Done) -> None:
        """A refused run's files were not kept, its snapshot with them: write its snapshot
        from the row just merged, so that the failed run is not a row without one."""
        from trackyard._consist.snapshot import recreate

        if done.outcome is not None:
            recreate(Store.of(self._runner.settings), [done.outcome.run_id], [])

    def _reader(self, done: _shards.Done) -> Callable[[Any, int, int], bytes]:
        """Reads a piece of a large file a task left on its Dask worker."""
        folder, worker = done.shipment.folder, done.shipment.worker

        def read(blob: Any, offset: int, size: int) -> bytes:
            future = self._on_worker(worker, _remote.read_chunk, folder, blob.path, offset, size)
            return bytes(future.result())

        return read

    def _on_worker(self, worker: str, fn: Callable[..., Any], *args: Any) -> Any:
        return self._executor.submit(
            fn, *args, workers=[worker], allow_other_workers=False, pure=False
        )

    def _processes(self, tasks: Iterable[tuple[str, _shards.Task]]) -> Iterator[tuple[str, Any]]:
        """Each task's future as it completes. A few tasks per worker are queued at a time
        and each future is let go once collected: the driver holds no per-config state for
        the tasks still to come or already done, however long the sweep."""
        from concurrent.futures import FIRST_COMPLETED, wait

        _shards.make_template(self._runner, self._build)
        kept = _KEPT.get()
        pool = (
            _new_pool(self.slots, self._context)
            if kept is None
            else kept.get(self.slots, self._context)
        )
        queued: dict[Any, str] = {}
        todo = iter(tasks)
        broken = False
        try:
            while _top_up(pool, todo, queued, 2 * self.slots + 2) or queued:
                done, _ = wait(list(queued), return_when=FIRST_COMPLETED)
                for future in done:
                    broken = broken or _broken(future)
                    yield queued.pop(future), future
        finally:
            for future in queued:
                future.cancel()  # a batch left early: its queued tasks never start
            if kept is None:
                pool.shutdown(wait=True, cancel_futures=True)
            elif broken:
                kept.discard(self.slots)

    def _dask(self, tasks: Iterable[tuple[str, _shards.Task]]) -> Iterator[tuple[str, Any]]:
        from distributed import as_completed  # only Dask users have it

        _shards.make_template(self._runner, self._build)
        client = self._executor
        wanted = _remote.hold_sweep(client, self._sweep)  # asked by workers without the folder
        try:
            wiring = self._runner.wiring
            wired = [path for _, path in wiring.identity_inputs] + list(wiring.code_dependencies)
            shipped = _inputs.Shipper(client, self._sweep, wired)
            futures = {
                client.submit(_remote.execute, *shipped.task(t), pure=False): n for n, t in tasks
            }
            for future in as_completed(list(futures)):  # type: ignore[no-untyped-call]
                yield futures.pop(future), future  # let go once collected
        finally:
            wanted.clear()
