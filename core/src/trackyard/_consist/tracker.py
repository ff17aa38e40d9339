"""Building consist objects on a workspace: the ``Tracker``, its lock budget, the schema.

* ``default_tracker``: the core default for the ``build_tracker`` hook. Every run gets its
  own output folder (``run_subdir``); schema set-up (~0.6 s) is skipped on a store this
  consist version initialised (a marker file beside the DB); the store is checked before
  consist touches it (``_store.check_store``); lock waits are bounded by
  ``TRACKYARD_LOCK_TIMEOUT`` (``apply_lock_budget``). A new store is a copy of the user's
  cached empty store when a current one exists (``store_template``), else consist sets it
  up and the result is kept in that cache.
* ``create_schema``: consist's tables on an empty store (``recovery.rebuild``).
* ``consist_version``, ``is_consist_tracker``, ``file_checksum``: the few facts
  about consist that modules outside this package need, without importing consist.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trackyard._store import (
    CORRUPT,
    LOCK,
    LOCK_TIMEOUT_ENV,
    READ_ONLY,
    Store,
    check_locations,
    check_store,
    classify,
    corrupt_error,
    lock_timeout,
    read_only_error,
    schema_marker,
)
from trackyard.errors import StoreUnavailableError
from trackyard.settings import Settings

if TYPE_CHECKING:
    from consist import Tracker as ConsistTracker
else:
    ConsistTracker = Any

__all__ = [
    "ConsistTracker",
    "apply_lock_budget",
    "consist_version",
    "create_schema",
    "default_tracker",
    "file_checksum",
    "is_consist_tracker",
    "resolve_uri",
    "run_subdir",
]


def consist_version() -> str:
    """The installed consist's version (imports consist: call it where consist is loaded)."""
    import consist

    return str(consist.__version__)


def is_consist_tracker(value: object) -> bool:
    """Whether ``value`` is a ``consist.Tracker`` (what a ``build_tracker`` hook must return)."""
    from consist import Tracker  # the caller is building a tracker: consist is loaded

    return isinstance(value, Tracker)


def file_checksum(project_root: Path) -> Callable[[Path], str]:
    """consist's own content digest of a file (``IdentityManager.compute_file_checksum``), for
    checking recorded output hashes without a tracker."""
    from consist.core.identity import IdentityManager  # heavy; only when auditing outputs

    checksum: Callable[[Path], str] = IdentityManager(
        project_root=str(project_root)
    ).compute_file_checksum
    return checksum


def resolve_uri(consist_tracker: Any, uri: str) -> Path:
    """The file a recorded artifact URI names (``Tracker.resolve_uri``: relative to the run
    folder, or through the tracker's mounts)."""
    return Path(consist_tracker.resolve_uri(uri))


def run_subdir(run: Any) -> str:
    """Every run gets its own output folder: ``<model>/<run id>`` (never shared across runs)."""
    return f"{run.model_name or 'run'}/{run.id}"


def apply_lock_budget(db: Any, timeout: float) -> None:
    """Bound a consist ``DatabaseManager``'s lock retries (default ~30 s) by ``timeout`` s.

    Writes three private attributes (``_lock_retries``, ``_lock_base_sleep_seconds``,
    ``_lock_max_sleep_seconds``): consist has no public setting for them.
    """
    if db is None:
        return
    # consist sleeps min(base * 1.5**i + U(0.05, 0.2), max) between attempts.
    base, cap, total, retries = 0.1, 1.0, 0.0, 1
    while total < timeout and retries < 200:
        total += min(base * 1.5 ** (retries - 1) + 0.125, cap)
        retries += 1
    db._lock_retries = retries
    db._lock_base_sleep_seconds = base
    db._lock_max_sleep_seconds = cap


def database_of(consist_tracker: Any) -> Any:
    """The ``DatabaseManager`` of a consist Tracker (None without a store)."""
    store = getattr(consist_tracker, "metadata_store", None)
    return getattr(store, "db", None)


def create_schema(store: Store) -> None:
    """consist's tables on ``store``: a new store is a copy of the user's cached template when
    there is a current one (``store_template``); otherwise its ``DatabaseManager`` sets the
    schema up, then every connection is closed. The schema marker is written either way, so
    the next tracker on it skips the set-up."""
    from consist.core.persistence import DatabaseManager  # heavy; only when repairing

    from trackyard._consist import store_template

    with _first_setup(store.db_path, False):
        if store.db_path.exists() or not store_template.place(store.db_path):
            db = store.retry(
                lambda: DatabaseManager(str(store.db_path)),
                what="opening the store to repair it",
            )
            apply_lock_budget(db, store.timeout)
            db.engine.dispose()
        schema_marker(store.db_path).write_text(consist_version() + "\n", encoding="utf-8")


def default_tracker(settings: Settings) -> ConsistTracker:
    """Create the workspace and a consist ``Tracker`` on it.

    Schema set-up (~0.6 s) is skipped when this store was already initialised by the same
    consist version, which a marker file beside the DB records.
    """
    check_locations(settings)
    timeout = lock_timeout()
    check_store(settings, timeout)
    try:
        settings.workspace.mkdir(parents=True, exist_ok=True)
        settings.db_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnavailableError(
            f"cannot create the workspace {settings.workspace}: {exc}"
        ) from exc
    try:
        tracker = _open(settings)
    except Exception as exc:
        kind = classify(exc, settings.db_path)
        if kind == CORRUPT:
            raise corrupt_error(settings.db_path, "opening", exc, settings.run_dir) from exc
        if kind == READ_ONLY:
            raise read_only_error(settings.db_path, "opening", exc) from exc
        if kind == LOCK:
            raise StoreUnavailableError(
                f"the store {settings.db_path} is locked by another process ({exc}); retry "
                f"when it is free, or raise {LOCK_TIMEOUT_ENV}"
            ) from exc
        raise
    apply_lock_budget(database_of(tracker), timeout)
    return tracker


def _open(settings: Settings) -> ConsistTracker:
    """The consist Tracker; the schema is set up (and the marker written) only when needed."""
    from consist import Tracker

    from trackyard._consist import logs, store_template

    logs.route()  # consist's log lines go through trackyard's logger from here on
    marker = schema_marker(settings.db_path)
    version = consist_version()

    def is_initialised() -> bool:
        return (
            settings.db_path.is_file()
            and settings.db_path.stat().st_size > 0
            and marker.is_file()
            and marker.read_text(encoding="utf-8").strip() == version
        )

    initialised = is_initialised()
    with _first_setup(settings.db_path, initialised):
        initialised = initialised or is_initialised()  # set up while this one waited
        new = not initialised and not settings.db_path.exists()
        # A new store is a copy of the user's cached template when there is a current one.
        placed = new and store_template.place(settings.db_path)
        tracker = Tracker(
            run_dir=settings.run_dir,
            db_path=settings.db_path,
            run_subdir_fn=run_subdir,
            db_skip_schema_init=initialised or placed,
        )
        if new and not placed:
            store_template.keep(settings.db_path)  # before the marker: nobody writes it yet
        if not initialised:
            marker.write_text(version + "\n", encoding="utf-8")
    return tracker


@contextlib.contextmanager
def _first_setup(db_path: Path, initialised: bool) -> Iterator[None]:
    """Serialise consist's schema set-up of one store across processes (an advisory lock on
    ``<db>.trackyard-schema.lock``): consist logs and skips the steps a concurrent set-up's
    lock makes fail, which would leave a store without some of its columns or indexes."""
    if initialised or sys.platform == "win32":
        yield
        return
    import fcntl

    lock = Path(f"{schema_marker(db_path)}.lock")
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
