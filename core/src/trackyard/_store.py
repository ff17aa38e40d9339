"""The core default for ``build_tracker`` and the store checks around it.

* every run gets its own output folder; schema set-up is skipped on an initialised store;
* before a Tracker is built: a workspace that is a file, a DB path that is a folder, a corrupt or
  truncated DB, or a deleted DB whose JSON snapshots remain, raise ``StoreUnavailableError``
  naming the file and the recovery command;
* lock waits are bounded by ``TRACKYARD_LOCK_TIMEOUT`` seconds (default 30);
* queries use a short-lived read-only DuckDB connection with external access disabled, opened
  and closed around each query (never held across a consist call: DuckDB refuses consist's own
  connections to the file while one with another configuration is open in the process);
* whether a recorded process is still alive (stale runs and sweeps).

The workspace's file names are in ``_layout``; SQL against consist's tables is in ``_queries``.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from trackyard._layout import DB_FILE, RUNS_DIR, SCHEMA_MARKER_SUFFIX, SNAPSHOT_DIR
from trackyard.errors import ConfigValidationError, StoreUnavailableError
from trackyard.settings import Settings

if TYPE_CHECKING:
    from consist import Tracker
    from consist.models.run import Run

LOCK_TIMEOUT_ENV = "TRACKYARD_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 30.0
# DuckDB files are 3 header blocks of 4 KiB followed by whole 256 KiB blocks.
_HEADER_BYTES = 3 * 4096
_BLOCK_BYTES = 256 * 1024
_LOCK_MARKERS = ("lock", "different configuration", "already open", "busy")
T = TypeVar("T")


def recovery_hint(settings_or_workspace: Settings | Path) -> str:
    ws = (
        settings_or_workspace.workspace
        if isinstance(settings_or_workspace, Settings)
        else settings_or_workspace
    )
    return (
        f"run `trackyard doctor --fix` or "
        f"`python -c \"import trackyard; print(trackyard.reconcile('{ws}'))\"`"
    )


def schema_marker(db_path: Path) -> Path:
    """The file beside a store that records the consist version that initialised it."""
    return Path(f"{db_path}{SCHEMA_MARKER_SUFFIX}")


def workspace_store(workspace: Path) -> tuple[Path, Path]:
    """The default ``(db_path, run_dir)`` of ``workspace``."""
    return workspace / DB_FILE, workspace / RUNS_DIR


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host exists (one we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_subdir(run: Run) -> str:
    """Every run gets its own output folder: ``<model>/<run id>`` (never shared across runs)."""
    return f"{run.model_name or 'run'}/{run.id}"


def lock_timeout(environ: Mapping[str, str] | None = None) -> float:
    """Seconds to wait for another process's lock on the DB (``TRACKYARD_LOCK_TIMEOUT``)."""
    raw = (os.environ if environ is None else environ).get(LOCK_TIMEOUT_ENV, "")
    if not raw.strip():
        return DEFAULT_LOCK_TIMEOUT
    try:
        value = float(raw)
        if not value >= 0:
            raise ValueError
    except ValueError:
        raise ConfigValidationError(
            f"{LOCK_TIMEOUT_ENV}={raw!r}: expected a number of seconds >= 0"
        ) from None
    return value


def snapshots(run_dir: Path) -> list[Path]:
    """consist's JSON run snapshots (``run_dir/consist_runs/*.json``), sorted by name."""
    folder = run_dir / SNAPSHOT_DIR
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(marker in text for marker in _LOCK_MARKERS)


def with_lock_retry(fn: Callable[[], T], db_path: Path, what: str, timeout: float) -> T:
    """Call ``fn``; while the DB is locked, retry until ``timeout`` seconds have passed, then
    raise ``StoreUnavailableError`` (never a silent empty answer)."""
    import duckdb

    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        try:
            return fn()
        except (duckdb.Error, OSError) as exc:
            if not is_lock_error(exc):
                raise
            if time.monotonic() >= deadline:
                raise StoreUnavailableError(
                    f"{what}: the store {db_path} stayed locked by another process or "
                    f"connection for {timeout:g} s ({exc}); retry when it is free, or raise "
                    f"{LOCK_TIMEOUT_ENV}"
                ) from exc
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 1.6 + random.uniform(0, 0.05), 1.0)


def read_only_query(
    db_path: Path, sql: str, params: Sequence[Any] | Mapping[str, Any], *, timeout: float, what: str
) -> list[tuple[Any, ...]]:
    """Run ``sql`` on a read-only connection with external access disabled, closed at once."""
    import duckdb

    def query() -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(db_path), read_only=True, config={"enable_external_access": False})
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    if not db_path.is_file():
        raise StoreUnavailableError(f"{what}: the store {db_path} does not exist")
    return with_lock_retry(query, db_path, what, timeout)


def check_locations(settings: Settings) -> None:
    """Refuse a workspace that is a file or a DB path that is a folder, before writing."""
    if settings.workspace.exists() and not settings.workspace.is_dir():
        raise ConfigValidationError(
            f"workspace {settings.workspace} is a file, not a folder; "
            "choose another workspace (TRACKYARD_WORKSPACE or workspace=...)"
        )
    if settings.db_path.is_dir():
        raise ConfigValidationError(
            f"db_path {settings.db_path} is a folder; point db_path at a .duckdb file"
        )
    if settings.run_dir.exists() and not settings.run_dir.is_dir():
        raise ConfigValidationError(f"run_dir {settings.run_dir} is a file, not a folder")


def check_store(settings: Settings, timeout: float) -> None:
    """Refuse a deleted-but-recorded, truncated or corrupt DB before consist touches it."""
    db = settings.db_path
    if not db.exists():
        # The schema marker beside the DB says this store existed: its loss is a deletion.
        # Without it the store is new (a parallel shard sharing run_dir, say) and is created.
        existed = schema_marker(db).is_file()
        found = snapshots(settings.run_dir) if existed else []
        if found:
            raise StoreUnavailableError(
                f"the store {db} is missing but {len(found)} run snapshot(s) exist in "
                f"{settings.run_dir / SNAPSHOT_DIR}; it was not replaced by an empty one. "
                f"Rebuild it from the snapshots: {recovery_hint(settings)}"
            )
        return
    size = db.stat().st_size
    if size < _HEADER_BYTES or (size - _HEADER_BYTES) % _BLOCK_BYTES:
        raise StoreUnavailableError(
            f"the store {db} is truncated ({size} bytes is not a whole number of DuckDB "
            f"blocks); move it aside and rebuild it from the run snapshots: "
            f"{recovery_hint(settings)}"
        )
    try:
        read_only_query(
            db, "SELECT count(*) FROM duckdb_tables()", [], timeout=timeout, what="opening"
        )
    except StoreUnavailableError:
        raise
    except Exception as exc:
        raise StoreUnavailableError(
            f"the store {db} is damaged ({type(exc).__name__}: {exc}); move it aside and "
            f"rebuild it from the run snapshots: {recovery_hint(settings)}"
        ) from exc


def apply_lock_budget(db: Any, timeout: float) -> None:
    """Bound a consist ``DatabaseManager``'s lock retries (default ~30 s) by ``timeout`` s."""
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


def default_tracker(settings: Settings) -> Tracker:
    """Create the workspace and a consist ``Tracker`` on it.

    Schema set-up (~0.6 s) is skipped when this store was already initialised by the same
    consist version, which a marker file beside the DB records.
    """
    import consist
    from consist import Tracker

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
    marker = schema_marker(settings.db_path)
    version = str(consist.__version__)
    initialised = (
        settings.db_path.is_file()
        and settings.db_path.stat().st_size > 0
        and marker.is_file()
        and marker.read_text(encoding="utf-8").strip() == version
    )
    try:
        tracker = Tracker(
            run_dir=settings.run_dir,
            db_path=settings.db_path,
            run_subdir_fn=run_subdir,
            db_skip_schema_init=initialised,
        )
    except Exception as exc:
        if is_lock_error(exc):
            raise StoreUnavailableError(
                f"the store {settings.db_path} is locked by another process ({exc}); retry "
                f"when it is free, or raise {LOCK_TIMEOUT_ENV}"
            ) from exc
        raise
    apply_lock_budget(getattr(tracker.metadata_store, "db", None), timeout)
    if not initialised:
        marker.write_text(version + "\n", encoding="utf-8")
    return tracker
