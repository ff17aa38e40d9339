"""The store access layer: checks, the DuckDB connection factory, transactions, lock waits.

* before a Tracker is built (``_consist.tracker.default_tracker``): a workspace that is a
  file, a DB path that is a folder, a corrupt or truncated DB, or a deleted DB whose JSON
  snapshots remain, raise ``StoreUnavailableError`` naming the file and the recovery command;
* lock waits are bounded by ``TRACKYARD_LOCK_TIMEOUT`` seconds (default 30);
* every DuckDB connection trackyard opens comes from ``connect`` and every write runs in
  ``transaction``; queries use a short-lived read-only connection with external access
  disabled, opened and closed around each query (never held across a consist call: DuckDB
  refuses consist's own connections to the file while one with another configuration is open
  in the process);
* whether a recorded process is still alive (stale runs and sweeps).

The workspace's file names are in ``_layout``; SQL against consist's tables is in
``_consist.schema``, run by ``_queries``.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from trackyard._consist import schema
from trackyard._consist.schema import quote_identifier
from trackyard._dbfile import intact
from trackyard._layout import DB_FILE, RUNS_DIR, SCHEMA_MARKER_SUFFIX, SNAPSHOT_DIR
from trackyard.errors import (
    ConfigValidationError,
    DiskFullError,
    StoreCorruptError,
    StoreReadOnlyError,
    StoreUnavailableError,
)
from trackyard.settings import Settings

LOCK_TIMEOUT_ENV = "TRACKYARD_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 30.0
# DuckDB files are 3 header blocks of 4 KiB followed by whole 256 KiB blocks.
_HEADER_BYTES = 3 * 4096
_BLOCK_BYTES = 256 * 1024
T = TypeVar("T")


def recovery_hint(settings_or_workspace: Settings | Path) -> str:
    """The repair command for a workspace (or the settings of a tracker)."""
    if isinstance(settings_or_workspace, Settings):
        return repair_hint(settings_or_workspace.db_path, settings_or_workspace.run_dir)
    return repair_hint(*workspace_store(settings_or_workspace))


def repair_hint(db_path: Path, run_dir: Path | None = None) -> str:
    """A repair command that works for this store: ``trackyard doctor --fix`` on its workspace
    when it sits at its default place, else ``trackyard.reconcile`` naming both locations."""
    ws = db_path.parent
    if db_path.name == DB_FILE and (run_dir is None or run_dir == ws / RUNS_DIR):
        return f"run `trackyard doctor --fix --workspace {ws}`"
    folder = run_dir if run_dir is not None else ws / RUNS_DIR
    return (
        'run `python -c "import trackyard; print(trackyard.reconcile('
        f"db_path='{db_path}', run_dir='{folder}'))\"`"
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
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Whether ``pid`` has exited but was not reaped yet (Linux; False elsewhere): a killed
    worker whose parent died too can stay a zombie when the container's init never reaps."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


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


# --- the one way into a store: classify, wait and retry ---------------------------------------

LOCK = "lock"
CORRUPT = "corrupt"
READ_ONLY = "read-only"
# The words of the OS errors DuckDB's IOException carries when a file cannot be opened for
# writing (EROFS, EACCES): no wait makes them go away.
_CANNOT_WRITE = ("Read-only file system", "Permission denied")


def _duckdb_error(exc: BaseException) -> BaseException | None:
    """The DuckDB exception behind ``exc`` (SQLAlchemy wraps it as ``.orig``), or None."""
    import duckdb

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, duckdb.Error):
            return current
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return None


def lock_holder(db_path: Path) -> int | None:
    """The pid of another process holding a POSIX lock on ``db_path`` (DuckDB's file lock),
    from ``/proc/locks`` on Linux or ``fcntl(F_GETLK)`` elsewhere; None when nobody does."""
    try:
        st = db_path.stat()
    except OSError:
        return None
    me = os.getpid()
    locks = Path("/proc/locks")
    if locks.is_file():
        device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
        try:
            lines = locks.read_text(encoding="ascii", errors="replace").splitlines()
        except OSError:
            lines = []
        for line in lines:
            fields = line.split()
            # "1: POSIX  ADVISORY  WRITE 18885 fe:00:2255204 0 EOF" ("->" marks a waiter)
            if len(fields) >= 6 and fields[1] != "->" and fields[5] == device:
                pid = int(fields[4]) if fields[4].lstrip("-").isdigit() else -1
                if pid != me:
                    return pid
        return None
    return _fcntl_holder(db_path, me)


def _fcntl_holder(db_path: Path, me: int) -> int | None:  # pragma: no cover - not Linux
    import fcntl
    import struct

    fmt = "hhqqi"
    try:
        fd = os.open(db_path, os.O_RDONLY)
    except OSError:
        return None
    try:
        probe = struct.pack(fmt, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        kind, _, _, _, pid = struct.unpack(fmt, fcntl.fcntl(fd, fcntl.F_GETLK, probe))
    except OSError:
        return None
    finally:
        os.close(fd)
    return pid if kind != fcntl.F_UNLCK and pid != me else None


@dataclass(frozen=True)
class LockConflict:
    """What DuckDB said when it could not lock a file: the file (the store, a shard, or any
    other DuckDB file) and, when it named one, the holder's pid and program."""

    file: Path
    pid: int | None
    program: str | None

    def holder(self) -> str:
        """The holder for a person: ``process 123 (python3.11)``, or ``another process``."""
        if self.pid is None:
            return "another process"
        return f"process {self.pid}" + (f" ({Path(self.program).name})" if self.program else "")


# DuckDB's IOException when another process holds a file (pinned by
# tests/consist_contract/test_duckdb_lock_message.py): 'Could not set lock on file "F":
# Conflicting lock is held in PROGRAM (PID N) ...'. Its type alone (IOException) is shared
# with failed reads, so the words decide; the pid is optional (not every platform names it).
_LOCK_FILE = re.compile(r'Could not set lock on file "(?P<file>[^"]+)"')
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")


def lock_conflict(exc: BaseException) -> LockConflict | None:
    """The lock conflict DuckDB reported in ``exc``'s chain, or None when it is not one."""
    import duckdb

    found = _duckdb_error(exc)
    if not isinstance(found, duckdb.IOException):
        return None
    text = str(found)
    named = _LOCK_FILE.search(text)
    if named is None:
        return None
    holder = _LOCK_HOLDER.search(text)
    return LockConflict(
        Path(named["file"]),
        int(holder["pid"]) if holder else None,
        holder["program"] if holder else None,
    )


def classify(exc: BaseException, db_path: Path) -> str | None:
    """``LOCK``, ``CORRUPT`` or None, from DuckDB's exception type:

    * ``ConnectionException``: this process holds the file with another configuration (a lock);
    * ``IOException`` saying it could not lock a file (``lock_conflict``): a lock, always,
      whatever file it names;
    * an ``IOException`` saying the file system is read-only or permission was denied:
      ``READ_ONLY`` (``read_only_error``), never waited for;
    * another ``IOException``: a lock, unless the file is not a whole number of DuckDB blocks
      (truncated); ``with_lock_retry`` decides at its deadline (a holder seen, or a file
      whose structure is intact: locked; neither: unreadable);
    * a bare ``duckdb.Error``, ``FatalException`` or ``InternalException`` (DuckDB's type for
      "Corrupt database file: computed checksum ..."): damage.
    """
    import duckdb

    found = _duckdb_error(exc)
    if found is None:
        return None
    if isinstance(found, duckdb.ConnectionException) or lock_conflict(found) is not None:
        return LOCK
    if isinstance(found, duckdb.IOException):
        if any(words in str(found) for words in _CANNOT_WRITE):
            return READ_ONLY
        return CORRUPT if truncated(db_path) and lock_holder(db_path) is None else LOCK
    if type(found) is duckdb.Error or isinstance(
        found, (duckdb.FatalException, duckdb.InternalException)
    ):
        return CORRUPT
    return None


def _no_space(exc: BaseException) -> BaseException | None:
    """The ``ENOSPC`` error (or DuckDB's "No space left on device") in ``exc``'s chain."""
    import errno

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno == errno.ENOSPC:
            return current
        if "No space left on device" in str(current):
            return current
        current = current.__cause__ or current.__context__
    return None


def _size(n: int) -> str:
    """``n`` bytes for a person: ``0 B``, ``512.0 KiB``, ``3.2 GiB``."""
    if n < 1024:
        return f"{n} B"
    value, unit = n / 1024, "KiB"
    for bigger in ("MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit}"


def _free_bytes(path: Path) -> int | None:
    """Free bytes on the filesystem holding ``path`` (or its nearest existing parent)."""
    import shutil

    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def disk_full(exc: BaseException, run_name: str, settings: Settings) -> DiskFullError | None:
    """A ``DiskFullError`` naming the full folder (the file the OS named, else the run
    folder), its free space and the way out, when ``exc`` comes from a full disk."""
    found = _no_space(exc)
    if found is None:
        return None
    named = getattr(found, "filename", None)
    where = Path(named) if isinstance(named, str) and named else settings.run_dir
    free = _free_bytes(where)
    return DiskFullError(
        f"no space left on device while running {run_name!r}: {where} has "
        f"{'no known space' if free is None else _size(free)} free; "
        "free space there, or point the workspace (TRACKYARD_WORKSPACE, or TRACKYARD_RUN_DIR "
        "and TRACKYARD_DB_PATH) at a larger disk; the run was not recorded as completed, so "
        "running it again executes it",
        where,
    )


def truncated(db_path: Path) -> bool:
    """Whether ``db_path`` exists and is not 3 header blocks plus whole data blocks."""
    try:
        size = db_path.stat().st_size
    except OSError:
        return False
    return size < _HEADER_BYTES or (size - _HEADER_BYTES) % _BLOCK_BYTES != 0


def corrupt_error(
    db_path: Path, what: str, exc: BaseException, run_dir: Path | None = None
) -> StoreCorruptError:
    """The typed damage error: names the file, what DuckDB said, and the repair command."""
    return StoreCorruptError(
        f"{what}: the store {db_path} is damaged ({type(exc).__name__}: {exc}); nothing was "
        f"written to it. Move it aside and rebuild it from the run snapshots: "
        f"{repair_hint(db_path, run_dir)}",
        db_path,
    )


def with_lock_retry(fn: Callable[[], T], db_path: Path, what: str, timeout: float) -> T:
    """Call ``fn`` (anything touching the store); on a lock conflict wait and retry until
    ``timeout`` seconds have passed, then raise ``StoreUnavailableError`` naming the locked
    file and its holder. A lock is never called damage: ``StoreCorruptError`` is raised at
    once when DuckDB's error type says so, and at the deadline only for an IO error that was
    no lock DuckDB named, behind which no holder was ever seen, on a file whose structure is
    not intact. Other errors pass through."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    holder: int | None = None
    next_collect = 0.0
    while True:
        try:
            return fn()
        except Exception as exc:
            kind = classify(exc, db_path)
            if kind is None:
                raise
            if kind == CORRUPT:
                raise corrupt_error(db_path, what, exc) from exc
            if kind == READ_ONLY:
                raise read_only_error(db_path, what, exc) from exc
            in_process = isinstance(_duckdb_error(exc), _connection_error())
            if in_process and time.monotonic() >= next_collect:
                next_collect = time.monotonic() + 1.0  # at most once a second
                if _collect_garbage():
                    continue  # a dropped connection of this process may have held it
            conflict = lock_conflict(exc)
            holder = lock_holder(conflict.file if conflict else db_path) or holder
            if time.monotonic() >= deadline:
                raise _deadline_error(exc, db_path, what, timeout, holder, in_process) from exc
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 1.6 + random.uniform(0, 0.05), 1.0)


def read_only_error(db_path: Path, what: str, exc: BaseException) -> StoreReadOnlyError:
    """The error for a store that had to be written but cannot be."""
    return StoreReadOnlyError(
        f"{what}: the store {db_path} cannot be written ({_duckdb_error(exc) or exc}); it is "
        "on a read-only file system or this user may not write it. Reading works as it is; "
        "to write, give write access or copy the workspace somewhere writable",
        db_path,
    )


def _deadline_error(
    exc: BaseException,
    db_path: Path,
    what: str,
    timeout: float,
    holder: int | None,
    in_process: bool,
) -> StoreCorruptError | StoreUnavailableError:
    """The error a lock wait ends in: which file stayed locked, by whom, and what to do."""
    conflict = lock_conflict(exc)
    if conflict is None and holder is None and not in_process and not intact(db_path):
        return corrupt_error(db_path, what, exc)
    if conflict is not None and conflict.pid is not None:
        by = conflict.holder()
    elif holder is not None:
        by = f"process {holder}"
    else:
        by = "another connection of this process" if in_process else "another process"
    locked = conflict.file if conflict is not None else db_path
    where = (
        f"the store {db_path}" if locked == db_path else f"{locked} (used with the store {db_path})"
    )
    return StoreUnavailableError(
        f"{what}: {where} stayed locked by {by} for {timeout:g} s ({_duckdb_error(exc)}); "
        f"it is locked, not damaged: retry when it is free, or raise {LOCK_TIMEOUT_ENV}"
    )


def _collect_garbage() -> bool:
    """Run the garbage collector when it may free something: True when it found garbage.

    DuckDB refuses a second, differently configured connection to a file that this process
    already holds open (``ConnectionException``), and a connection the program dropped stays
    open until the objects holding it are freed. One in a reference cycle (an exception's
    traceback, an object pointing at itself, a disposed SQLAlchemy pool that got a connection
    back after it was disposed) is freed only by the collector, which runs when the program
    allocates: a retry loop that only sleeps would wait for it until its deadline.
    """
    import gc

    return gc.collect() > 0


def _connection_error() -> type[BaseException]:
    import duckdb

    return duckdb.ConnectionException


@contextlib.contextmanager
def connect(
    db_path: Path, *, read_only: bool = False, external_access: bool = True
) -> Iterator[Any]:
    """THE DuckDB connection factory: every connection trackyard opens itself (consist opens
    its own) comes from here, and is closed when the block ends. Read-only connections never
    get external access (no file reads or writes from SQL); ``external_access=False`` refuses
    it on a read-write one too. No progress bar: a rebuild over a million runs would draw one.
    """
    import duckdb

    config: dict[str, str | bool | int | float | list[str]] = (
        {} if external_access and not read_only else {"enable_external_access": False}
    )
    con = duckdb.connect(str(db_path), read_only=read_only, config=config)
    try:
        con.execute("SET enable_progress_bar = false")
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def transaction(con: Any) -> Iterator[Any]:
    """One transaction on ``con``: committed when the block ends, rolled back when it raises
    (a failed rollback, on a connection DuckDB already invalidated, does not hide the error).
    Every writer of the store uses it (restores, shard merges, the metrics index)."""
    import duckdb

    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise


def read_only_query(
    db_path: Path, sql: str, params: Sequence[Any] | Mapping[str, Any], *, timeout: float, what: str
) -> list[tuple[Any, ...]]:
    """Run ``sql`` on a read-only connection with external access disabled, closed at once;
    lock conflicts are waited for (``with_lock_retry``)."""

    def query() -> list[tuple[Any, ...]]:
        with connect(db_path, read_only=True) as con:
            rows: list[tuple[Any, ...]] = con.execute(sql, params).fetchall()
            return rows

    if not db_path.is_file():
        raise StoreUnavailableError(
            f"{what}: the store {db_path} does not exist; {repair_hint(db_path)}"
        )
    return with_lock_retry(query, db_path, what, timeout)


def write_transaction(db_path: Path, fn: Callable[[Any], T], *, timeout: float, what: str) -> T:
    """Call ``fn(connection)`` on a read-write DuckDB connection to ``db_path``, closed at once;
    lock conflicts are waited for, damage raises ``StoreCorruptError``."""

    def write() -> T:
        with connect(db_path) as con:
            return fn(con)

    return with_lock_retry(write, db_path, what, timeout)


@dataclass(frozen=True)
class Store:
    """One workspace's store as settings resolve it: THE way into it.

    ``query`` (read-only), ``write`` (one read-write connection), ``retry`` (any callable that
    touches the DB, such as consist's), ``check`` (refuse a damaged or deleted store) all share
    one lock budget (``TRACKYARD_LOCK_TIMEOUT``) and one error classification.
    """

    db_path: Path
    run_dir: Path
    timeout: float

    @classmethod
    def of(cls, settings: Settings, timeout: float | None = None) -> Store:
        """The store ``settings`` resolve (``timeout`` defaults to ``TRACKYARD_LOCK_TIMEOUT``)."""
        return cls(
            settings.db_path, settings.run_dir, lock_timeout() if timeout is None else timeout
        )

    def query(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = (), *, what: str
    ) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` (bound ``params``) on a short-lived read-only connection."""
        return read_only_query(self.db_path, sql, params, timeout=self.timeout, what=what)

    def write(self, fn: Callable[[Any], T], *, what: str) -> T:
        """``fn(connection)`` on a short-lived read-write connection."""
        return write_transaction(self.db_path, fn, timeout=self.timeout, what=what)

    def retry(self, fn: Callable[[], T], *, what: str) -> T:
        """``fn()`` with the lock budget and error classification of every store access."""
        return with_lock_retry(fn, self.db_path, what, self.timeout)

    def check(self, *, deep: bool = False) -> None:
        """Refuse a deleted-but-recorded, truncated or damaged store (``deep`` reads every
        table's every row, as ``doctor --fix`` does; the default check is cheap)."""
        verify_store(self.db_path, self.run_dir, self.timeout, deep=deep)


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


def check_writable(settings: Settings) -> None:
    """``StoreReadOnlyError`` before a run writes anything when the store's file, its folder or
    the run folder cannot be written (a read-only mount, permissions). A few ``access`` calls."""
    import errno

    for path in (settings.db_path, settings.db_path.parent, settings.run_dir):
        if path.exists() and not os.access(path, os.W_OK):
            reason = os.strerror(errno.EROFS if _read_only_mount(path) else errno.EACCES)
            raise StoreReadOnlyError(
                f"cannot record a run: {path} cannot be written ({reason}). Rankings, listings "
                "and `why` still read this store; to run, give write access or use a "
                "writable copy of the workspace",
                settings.db_path,
            )


def _read_only_mount(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def check_store(settings: Settings, timeout: float) -> None:
    """Refuse a deleted-but-recorded, truncated or corrupt DB before consist touches it."""
    verify_store(settings.db_path, settings.run_dir, timeout)


def _wait_while_written(db: Path, timeout: float) -> None:
    """Wait while ``db`` is not a whole number of blocks because another process holds it
    (creating it, or growing it mid-write): a store being written is in use, not truncated.
    Raises ``StoreUnavailableError`` naming the holder when that outlasts ``timeout``."""
    deadline = time.monotonic() + timeout
    while truncated(db):
        holder = lock_holder(db)
        if holder is None:
            return  # nobody is writing it: the size check that follows decides
        if time.monotonic() >= deadline:
            raise StoreUnavailableError(
                f"opening: the store {db} stayed locked by process {holder} for {timeout:g} s "
                f"while it was being written ({db.stat().st_size} bytes so far); it is locked, "
                f"not damaged: retry when it is free, or raise {LOCK_TIMEOUT_ENV}"
            )
        time.sleep(0.05)


_TABLES_SQL = "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY 1"


def verify_store(db_path: Path, run_dir: Path, timeout: float, *, deep: bool = False) -> None:
    """Refuse a missing store whose run folder holds snapshots (never replaced by an empty
    one), a truncated file, or one DuckDB cannot read (``StoreCorruptError``).

    The cheap check (at every ``get_tracker``) checks the file's size, then its headers and
    catalogue root against their checksums without opening DuckDB (``_dbfile.intact``, ~1 ms);
    only when that does not pass does it open the file read-only, read the catalogue and count
    the runs, so DuckDB's own error is raised. ``deep`` reads every row of every table, so a
    damaged data block anywhere is found (``doctor --fix``).
    """
    db = db_path
    if not db.exists():
        found = snapshots(run_dir)
        if found:
            raise StoreUnavailableError(
                f"the store {db} is missing but {len(found)} run snapshot(s) exist in "
                f"{run_dir / SNAPSHOT_DIR}; it was not replaced by an empty one. "
                f"Rebuild it from the snapshots: {repair_hint(db, run_dir)}"
            )
        return
    _wait_while_written(db, timeout)
    size = db.stat().st_size
    if size < _HEADER_BYTES or (size - _HEADER_BYTES) % _BLOCK_BYTES:
        free = _free_bytes(db)
        if free is not None and free < _BLOCK_BYTES:
            raise DiskFullError(
                f"the store {db} stopped growing mid-block because its disk is full "
                f"({_size(free)} free); free space there (or move the workspace to a larger "
                f"disk), then check it with `trackyard doctor` (`--fix` rebuilds it from the "
                "run snapshots if it is damaged)",
                db,
            )
        raise StoreCorruptError(
            f"the store {db} is truncated ({size} bytes is not a whole number of DuckDB "
            f"blocks); move it aside and rebuild it from the run snapshots: "
            f"{repair_hint(db, run_dir)}",
            db,
        )
    if not deep and intact(db):
        return

    def probe() -> None:
        with connect(db, read_only=True) as con:
            tables = [str(r[0]) for r in con.execute(_TABLES_SQL).fetchall()]
            if schema.RUN_TABLE in tables:
                con.execute(schema.COUNT_RUNS_SQL).fetchall()
            if deep:
                for table in tables:
                    name = quote_identifier(table)
                    con.execute(f"SELECT sum(length(t::VARCHAR)) FROM main.{name} AS t").fetchall()

    try:
        with_lock_retry(probe, db, "opening", timeout)
    except StoreCorruptError as exc:
        raise corrupt_error(db, "opening", exc.__cause__ or exc, run_dir) from exc
    except StoreUnavailableError:
        raise
    except Exception as exc:
        raise corrupt_error(db, "opening", exc, run_dir) from exc
