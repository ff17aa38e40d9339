"""Sessions of a consist Tracker: batches of runs on one connection, the miss explainer.

Each internal used here is listed, with why, in ``trackyard._consist``'s docstring and pinned
by ``tests/consist_contract``.

* ``batch``: while one process owns a batch of runs, consist's ``DatabaseManager.engine``
  (built with SQLAlchemy's ``NullPool``, so every operation opens a new DuckDB connection,
  ~29 ms each) is swapped for a ``QueuePool(pool_size=1, max_overflow=0)`` engine on the same
  URL, and swapped back and disposed when the batch ends, which releases the file lock so other
  processes get in. The batch's engine also caches compiled statements (SQLAlchemy's statement
  cache, which duckdb_engine's dialect turns off only to silence a warning; its compiler is
  PostgreSQL's, which caches): a run's ~15 ORM statements are compiled once per batch, not
  once per run (~20 ms of a serial batch's ~110 ms per run here). Every run is such a batch
  of one, and the connection is also closed while
  the model itself runs (``lock_free``, once it has run ``LOCK_FREE_AFTER`` seconds; only an
  idle connection is ever closed, never one in use): the store is held only for consist's
  bookkeeping. ``released`` closes the batch's idle
  connection for a moment (a ranking or a read-back opens its own, differently configured
  connection, which DuckDB refuses while consist's is open in the same process).
* ``lock_free``'s wrapper also tells ``writes`` that the model returned: the run's remaining
  writes then share one transaction (``writes.grouped``).
* ``explain_misses``: consist's cache-miss explainer
  (``tracker_lifecycle.CacheMissExplainer``, ~180 ms of queries per miss) is replaced by a
  subclass that skips the explanation for the trackers registered with it (their misses record
  ``{"reason": "not_explained"}``); ``explain`` runs the real explainer on demand.
* ``known_misses``: the configs of a serial batch that the batch's one cache query found no
  run for skip consist's own lookup (two scans of the run table per run, growing with the
  store), by ``cache_mode="overwrite"``; their rows record the same unexplained miss.
* ``flush_snapshot``: consist writes a run's JSON snapshot before it calls the run-start
  hooks, so the stamp trackyard adds there (the pid and host running it) would reach the
  snapshot only when the run ends; the snapshot is written again once stamped
  (``Tracker._flush_json``), so ``reconcile`` can tell a run still in flight from one whose
  process is gone.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from trackyard._consist.writes import open_armed

EXPLAIN_ENV = "TRACKYARD_EXPLAIN_MISSES"
NOT_EXPLAINED = "not_explained"
MISS_EXPLANATION = "cache_miss_explanation"  # consist's run meta key

_lock = threading.Lock()
_quiet: weakref.WeakSet[Any] = weakref.WeakSet()  # consist Trackers whose misses skip it
_installed = False
# Engines of the batches open in this process, with the thread that opened each: a thread
# closes only its own (another thread's may be in use: disposing it then would orphan its
# checked-out connection, which keeps the DuckDB file locked until garbage collection).
_pools: list[tuple[int, Any]] = []


def _db(consist_tracker: Any) -> Any:
    store = getattr(consist_tracker, "metadata_store", None)
    return getattr(store, "db", None)


@contextlib.contextmanager
def batch(consist_tracker: Any) -> Iterator[None]:
    """Keep one DuckDB connection open for every consist operation inside the block."""
    db = _db(consist_tracker)
    engine = getattr(db, "engine", None)
    if engine is None or getattr(engine.pool, "_trackyard_batch", False):
        yield  # no store, or already inside a batch
        return
    from sqlalchemy.pool import QueuePool
    from sqlmodel import create_engine

    pooled = create_engine(engine.url, poolclass=QueuePool, pool_size=1, max_overflow=0)
    pooled.pool._trackyard_batch = True  # type: ignore[attr-defined]
    pooled.dialect._supports_statement_cache = True
    db.engine = pooled
    owned = (threading.get_ident(), pooled)
    with _lock:
        _pools.append(owned)
    try:
        yield
    finally:
        db.engine = engine
        with _lock:
            _pools.remove(owned)
        pooled.pool.dispose()  # the idle connection; never one still checked out (see below)
        pooled.dispose()


@contextlib.contextmanager
def released() -> Iterator[None]:
    """Close the idle connections of this thread's batches for the block (they reopen on the
    next consist operation)."""
    _release_thread(threading.get_ident())
    yield


def _release_thread(thread: int) -> bool:
    """Close the idle connection of each batch that ``thread`` opened; True when none of them
    had a connection in use (one in use is left alone: call again once it is back).

    Only the pool's idle connections are closed (``Pool.dispose``, on the SAME pool object):
    a connection checked out meanwhile goes back to that pool and is closed by the next
    release or by the batch's end. ``Engine.dispose`` would instead swap in a new pool and
    orphan a checked-out connection in the old one, where it kept the DuckDB file locked,
    for other processes, until the garbage collector found it (about 30 s).
    """
    with _lock:
        pools = [pooled for owner, pooled in _pools if owner == thread]
    idle = True
    for pooled in pools:
        if pooled.pool.checkedout() > 0:
            idle = False
            continue
        pooled.pool.dispose()
    return idle


# How long a model may run before its thread's batch connection is closed: closing and
# reopening costs ~40 ms, which a trivial model would pay on every run for nothing.
LOCK_FREE_AFTER = 0.2
# How often the release is tried again while a connection is in use (a model calling consist).
_RETRY_RELEASE = 0.05


def lock_free(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` wrapped so that the batch connections of this thread are closed once it has run
    for ``LOCK_FREE_AFTER`` seconds (a model may run for hours: the store is free for other
    processes meanwhile); consist reconnects once afterwards. A quicker model keeps the
    connection. The closing happens on a helper thread while ``fn`` runs and closes only idle
    connections (one the model is using through consist is closed once it is back); the
    helper is stopped, and waited for, before ``fn``'s result goes back to consist. Code
    identity and parameters still see ``fn``."""

    @functools.wraps(fn)
    def model(*args: Any, **kwargs: Any) -> Any:
        done = threading.Event()
        owner = threading.get_ident()

        def release_when_idle() -> None:
            wait = LOCK_FREE_AFTER
            while not done.wait(wait) and not _release_thread(owner):
                wait = _RETRY_RELEASE

        helper = threading.Thread(target=release_when_idle, name="trackyard-lock-free")
        helper.daemon = True
        helper.start()
        try:
            return fn(*args, **kwargs)
        finally:
            done.set()
            helper.join()
            open_armed()  # the run's end writes: one transaction (``writes``)

    return model


class _Skip:
    """Stands in for consist's ``CacheMissExplanation`` when a miss is not explained."""

    reason = NOT_EXPLAINED
    candidate_run_id = None

    def as_dict(self) -> dict[str, Any]:
        return {"status": "miss", "reason": NOT_EXPLAINED}


def _install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        from consist.core import tracker_lifecycle

        real: Any = getattr(tracker_lifecycle, "CacheMissExplainer")  # noqa: B009

        class _OptIn(real):  # type: ignore[misc]
            def explain(self, run: Any, **kwargs: Any) -> Any:
                if self._tracker in _quiet:
                    return _Skip()
                return super().explain(run, **kwargs)

        setattr(tracker_lifecycle, "CacheMissExplainer", _OptIn)  # noqa: B010
        _installed = True


def explain_misses(consist_tracker: Any, enabled: bool) -> None:
    """Whether cache misses of ``consist_tracker`` get consist's explanation (~180 ms each)."""
    if enabled:
        _quiet.discard(consist_tracker)
        return
    _install()
    _quiet.add(consist_tracker)


# The runs, by name, that a serial batch's pre-check found no completed run for at all, with
# the consist tracker they run on: consist's own cache lookup is skipped for them, once each.
_KNOWN_MISSES: ContextVar[tuple[Any, set[str]] | None] = ContextVar(
    "trackyard_known_misses", default=None
)


@contextlib.contextmanager
def known_misses(consist_tracker: Any, names: Iterable[str]) -> Iterator[None]:
    """Inside the block, the first run of ``consist_tracker`` named in ``names`` executes
    without consist's cache lookup (two scans of the run table), as a miss the store has
    already been asked about; its row records the miss unexplained, like any other. Another
    process recording the same config meanwhile makes it run once more (a right result,
    never a wrong hit). Not while misses are explained (``TRACKYARD_EXPLAIN_MISSES``)."""
    token = _KNOWN_MISSES.set((consist_tracker, set(names)))
    try:
        yield
    finally:
        _KNOWN_MISSES.reset(token)


def known_miss(consist_tracker: Any, name: str) -> bool:
    """Whether the run ``name`` of ``consist_tracker`` skips consist's cache lookup now
    (``known_misses``; once per name)."""
    known = _KNOWN_MISSES.get()
    if known is None or known[0] is not consist_tracker or name not in known[1]:
        return False
    known[1].discard(name)
    return explains_misses(consist_tracker) is False


def explains_misses(consist_tracker: Any) -> bool:
    """Whether misses of ``consist_tracker`` are explained as they are recorded."""
    return consist_tracker not in _quiet


def unexplained_miss() -> dict[str, Any]:
    """The run meta a miss records when it is not explained (consist's key)."""
    return {MISS_EXPLANATION: _Skip().as_dict()}


def explain(consist_tracker: Any, run: Any) -> dict[str, Any]:
    """consist's explanation of why ``run`` (a recorded run) found no cache hit."""
    from consist.core.cache_miss_explainer import CacheMissExplainer

    explained: dict[str, Any] = CacheMissExplainer(consist_tracker).explain(run).as_dict()
    return explained


def use_tracker(consist_tracker: Any) -> Any:
    """consist's ``use_tracker`` context manager: module-level consist helpers
    (``consist.scenario``, ``consist.find_runs``...) use ``consist_tracker`` inside it."""
    import consist

    return consist.use_tracker(consist_tracker)


def flush_snapshot(consist_tracker: Any) -> None:
    """Write the active run's JSON snapshot now (consist's ``Tracker._flush_json``); nothing
    when this consist has no such method."""
    flush = getattr(consist_tracker, "_flush_json", None)
    if callable(flush):
        flush()
